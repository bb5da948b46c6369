//! The same on loop devices: real block devices with 512- and 4096-byte
//! sectors. Root only; elsewhere each test says why it skips.

use std::time::Duration;

use hearth_installer::disk::{self, device::Device, wipe, Options};
use hearth_installer::inventory::{probe_with, Disk};
use hearth_installer::runner::Runner;

use crate::support::{can_use_loops, plan, put_pool_labels, sha256, tool, Loop, Scratch, GIB};

const MINIMAL: &str = "../profiles/minimal.toml";

/// `hearth disks --loop`, narrowed to this test's own loop devices (other
/// tests run at the same time with theirs).
fn inventory(loops: &[&Loop]) -> Vec<Disk> {
    let all = probe_with(true).expect("probe");
    all.disks
        .into_iter()
        .filter(|d| loops.iter().any(|l| l.0 == d.path))
        .collect()
}

fn partition(plan: &hearth_installer::plan::Plan) {
    let runner = Runner::new(None, false).expect("runner");
    // The kernel makes partition nodes where it reads GPTs; where it does not,
    // the wait must end with a message naming what is missing.
    match disk::partition(
        plan,
        &runner,
        &Options {
            wait: Some(Duration::from_secs(10)),
        },
    ) {
        Ok(()) => {}
        Err(err) => {
            let text = format!("{err:#}");
            assert!(
                text.contains("has not made") && text.contains("CONFIG_EFI_PARTITION"),
                "{text}"
            );
        }
    }
}

fn partition_loop(sector: u64) {
    if !can_use_loops() {
        return;
    }
    let scratch = Scratch::new(&format!("loop{sector}"));
    let image = scratch.image("d.img", 8 * GIB);
    let device = Loop::attach(&image, sector);
    let disks = inventory(&[&device]);
    assert_eq!(disks.len(), 1);
    assert_eq!(u64::from(disks[0].logical_sector), sector);
    let plan = plan(&scratch, MINIMAL, "", disks).expect("plan");
    partition(&plan);
    let node = device.0.display().to_string();
    let (ok, out) = tool("sgdisk", &["-v", &node]);
    assert!(
        ok && out.contains("No problems found"),
        "sgdisk -v {node}: {out}"
    );
    let (_, dump) = tool("sfdisk", &["-d", &node]);
    assert!(dump.contains(&format!("sector-size: {sector}")), "{dump}");
    let esp = &plan.erase[0].partitions[1];
    let esp_loop = Loop::range(&image, esp.start.0, esp.size.0);
    let esp_node = esp_loop.0.display().to_string();
    let (ok, out) = tool("fsck.fat", &["-n", &esp_node]);
    assert!(ok, "fsck.fat -n: {out}");
    let (_, found) = tool("blkid", &["-p", "-o", "export", &esp_node]);
    assert!(
        found.contains("TYPE=vfat") && found.contains("LABEL=HEARTH_ESP"),
        "{found}"
    );
}

#[test]
fn loop_device_with_512_byte_sectors() {
    partition_loop(512);
}

#[test]
fn loop_device_with_4096_byte_sectors() {
    partition_loop(4096);
}

#[test]
fn a_pool_on_a_loop_device_is_seen_refused_and_wiped_only_on_request() {
    if !can_use_loops() {
        return;
    }
    let scratch = Scratch::new("looppool");
    let image = scratch.image("pool.img", GIB);
    let blank_image = scratch.image("blank.img", 8 * GIB);
    let pool = Loop::attach(&image, 512);
    put_pool_labels(&pool.0, 0, GIB);
    let blank = Loop::attach(&blank_image, 512);
    let before = sha256(&pool.0);

    let disks = inventory(&[&pool, &blank]);
    let seen = disks
        .iter()
        .find(|d| d.path == pool.0)
        .expect("the pool's loop device");
    assert_eq!(
        seen.pools.first().map(|p| p.pool.as_str()),
        Some("ztest"),
        "the inventory reads the label"
    );

    // The minimal profile takes one disk: the blank one, never the pool's.
    let plan_blank = plan(&scratch, MINIMAL, "", disks.clone()).expect("plan");
    assert_eq!(plan_blank.erase[0].disk.path, blank.0);
    partition(&plan_blank);
    assert_eq!(
        sha256(&pool.0),
        before,
        "the disk holding a pool kept every byte"
    );

    // Pinned to the pool's disk without wipe: planning refuses.
    let pinned = format!("[pools.rpool]\ndisks = [\"{}\"]\n", pool.0.display());
    let err = plan(&scratch, MINIMAL, &pinned, disks.clone()).expect_err("refused");
    assert!(err.contains("holds ZFS pool `ztest` (active)"), "{err}");
    assert_eq!(sha256(&pool.0), before);

    // Wiped on request: afterwards wipefs finds nothing on it.
    let runner = Runner::new(None, false).expect("runner");
    let mut device = Device::open_write(&pool.0, 512).expect("open");
    wipe::wipe(&mut device, &[]).expect("wipe");
    drop(device);
    let (_, left) = tool("wipefs", &["-n", &pool.0.display().to_string()]);
    assert!(left.trim().is_empty(), "wipefs still finds: {left}");
    drop(runner);
}
