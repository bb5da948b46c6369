//! Partitioning sparse image files: no root needed.

use std::fs;
use std::path::Path;

use hearth_installer::disk::{self, device::Device, esp, inspect, wipe, Options};
use hearth_installer::inventory::zfs_label;
use hearth_installer::plan::{PartitionKind, Plan};
use hearth_installer::runner::Runner;
use serde_json::Value;

use crate::support::{disk, plan, put_pool_labels, sha256, tool, Scratch, GIB, MIB};

const MINIMAL: &str = "../profiles/minimal.toml";

fn run(plan: &Plan) -> anyhow::Result<()> {
    let runner = Runner::new(None, false)?;
    disk::partition(plan, &runner, &Options { wait: None })
}

/// sfdisk's JSON view of an image (sfdisk reads image files as 512-byte
/// sectors; 4096-byte tables are checked on loop devices).
fn sfdisk(image: &Path) -> Value {
    let (ok, out) = tool("sfdisk", &["--json", &image.display().to_string()]);
    assert!(ok, "sfdisk: {out}");
    serde_json::from_str(&out).expect("sfdisk JSON")
}

fn blkid_range(image: &Path, start: u64, size: u64) -> String {
    tool(
        "blkid",
        &[
            "-p",
            "-o",
            "export",
            "-O",
            &start.to_string(),
            "-S",
            &size.to_string(),
            &image.display().to_string(),
        ],
    )
    .1
}

/// The planned table is on the image, as three independent tools read it.
fn check_table(image: &Path, plan: &Plan) {
    let sector: u32 = 512;
    let disk = &plan.erase[0];
    let table = sfdisk(image);
    let table = &table["partitiontable"];
    assert_eq!(table["label"], "gpt");
    assert_eq!(table["sectorsize"], sector);
    let parts = table["partitions"].as_array().expect("partitions");
    assert_eq!(parts.len(), disk.partitions.len());
    for (part, planned) in parts.iter().zip(&disk.partitions) {
        assert_eq!(part["start"], planned.first_lba);
        assert_eq!(part["size"], planned.last_lba + 1 - planned.first_lba);
        assert_eq!(part["type"], planned.type_guid.as_str());
        assert_eq!(part["name"], planned.name.as_str());
        assert_eq!(
            part["start"].as_u64().unwrap_or(1) * u64::from(sector) % MIB,
            0,
            "1 MiB aligned"
        );
    }
    let whole = tool(
        "blkid",
        &["-p", "-o", "export", &image.display().to_string()],
    )
    .1;
    assert!(whole.contains("PTTYPE=gpt"), "{whole}");
    let esp = disk
        .partitions
        .iter()
        .find(|p| p.kind == PartitionKind::Esp)
        .expect("an ESP");
    let found = blkid_range(image, esp.start.0, esp.size.0);
    assert!(
        found.contains("TYPE=vfat") && found.contains("VERSION=FAT32"),
        "{found}"
    );
    assert!(found.contains("LABEL=HEARTH_ESP"), "{found}");
}

/// fsck.fat cannot take an offset: it checks a copy of the ESP's bytes.
fn fsck_esp(scratch: &Scratch, image: &Path, plan: &Plan) {
    let esp = plan.erase[0]
        .partitions
        .iter()
        .find(|p| p.kind == PartitionKind::Esp)
        .expect("an ESP");
    let copy = scratch.0.join("esp.img");
    let mut device = Device::open_read(image, 512).expect("image");
    let bytes = device
        .read_at(esp.start.0, esp.size.0 as usize)
        .expect("ESP bytes");
    fs::write(&copy, bytes).expect("ESP copy");
    let (ok, out) = tool("fsck.fat", &["-n", &copy.display().to_string()]);
    assert!(ok, "fsck.fat: {out}");
    assert!(
        !out.to_lowercase().contains("uninitialized") && !out.contains("Dirty"),
        "{out}"
    );
}

#[test]
fn minimal_profile_on_a_512_byte_sector_image() {
    let scratch = Scratch::new("img512");
    let image = scratch.image("d0.img", 20 * GIB);
    let plan = plan(&scratch, MINIMAL, "", vec![disk(&image, 20 * GIB, 512)]).expect("plan");
    run(&plan).expect("partition");
    let (ok, out) = tool("sgdisk", &["-v", &image.display().to_string()]);
    assert!(ok && out.contains("No problems found"), "sgdisk -v: {out}");
    check_table(&image, &plan);
    fsck_esp(&scratch, &image, &plan);
    let mbr = Device::open_read(&image, 512)
        .expect("image")
        .read_at(446, 16)
        .expect("MBR entry");
    assert_eq!(mbr[4], 0xEE, "a protective MBR");
}

#[test]
fn minimal_profile_on_a_4096_byte_sector_image() {
    let scratch = Scratch::new("img4k");
    let image = scratch.image("d0.img", 20 * GIB);
    let plan = plan(&scratch, MINIMAL, "", vec![disk(&image, 20 * GIB, 4096)]).expect("plan");
    assert_eq!(
        plan.erase[0].partitions[0].first_lba, 256,
        "1 MiB in 4 KiB sectors"
    );
    run(&plan).expect("partition");
    let mut device = Device::open_read(&image, 4096).expect("image");
    assert_eq!(
        device.read_at(4096, 8).expect("LBA 1"),
        b"EFI PART",
        "primary header at LBA 1 of 4 KiB"
    );
    let last = device.size - 4096;
    assert_eq!(
        device.read_at(last, 8).expect("last LBA"),
        b"EFI PART",
        "backup header in the last LBA"
    );
    let table = hearth_installer::disk::gpt::read(&device).expect("table");
    assert_eq!(table.len(), 3);
    let esp = &plan.erase[0].partitions[1];
    let found = blkid_range(&image, esp.start.0, esp.size.0);
    assert!(
        found.contains("BLOCK_SIZE=4096"),
        "FAT with 4 KiB sectors: {found}"
    );
}

#[test]
fn disks_larger_than_2_tib() {
    let scratch = Scratch::new("img3t");
    let size = 3 * 1024 * GIB;
    let image = scratch.image("big.img", size);
    let plan = plan(&scratch, MINIMAL, "", vec![disk(&image, size, 512)]).expect("plan");
    run(&plan).expect("partition");
    let (ok, out) = tool("sgdisk", &["-v", &image.display().to_string()]);
    assert!(ok && out.contains("No problems found"), "sgdisk -v: {out}");
    let zfs = plan.erase[0].partitions.last().expect("zfs partition");
    assert!(
        zfs.last_lba > u64::from(u32::MAX),
        "past the 32-bit LBA limit of MBR"
    );
    check_table(&image, &plan);
    let mbr = Device::open_read(&image, 512)
        .expect("image")
        .read_at(446, 16)
        .expect("MBR entry");
    assert_eq!(
        &mbr[12..16],
        &[0xFF; 4],
        "protective MBR covers as much as MBR can"
    );
}

#[test]
fn files_copied_into_the_esp_read_back_with_mtools() {
    let scratch = Scratch::new("espcopy");
    let image = scratch.image("d0.img", 8 * GIB);
    let plan = plan(&scratch, MINIMAL, "", vec![disk(&image, 8 * GIB, 512)]).expect("plan");
    run(&plan).expect("partition");
    let tree = scratch.0.join("tree");
    fs::create_dir_all(tree.join("EFI/BOOT")).expect("tree");
    fs::create_dir_all(tree.join("grub")).expect("tree");
    fs::write(tree.join("EFI/BOOT/BOOTX64.EFI"), vec![0x4d; 300_000]).expect("file");
    fs::write(
        tree.join("grub/grub.cfg"),
        "search --fs-uuid --set=root X\n",
    )
    .expect("file");
    let esp = plan.erase[0].partitions[1].clone();
    let mut device = Device::open_write(&image, 512).expect("open");
    esp::copy_tree_range(&mut device, esp.start.0, esp.size.0, &tree).expect("copy");
    drop(device);
    let target = format!("{}@@{}", image.display(), esp.start.0);
    let (ok, cfg) = tool("mtype", &["-i", &target, "::/grub/grub.cfg"]);
    assert!(ok && cfg.contains("search --fs-uuid"), "mtype: {cfg}");
    let (ok, listing) = tool("mdir", &["-i", &target, "::/EFI/BOOT"]);
    assert!(
        ok && listing.contains("BOOTX64") && listing.contains("300 000"),
        "mdir: {listing}"
    );
    fsck_esp(&scratch, &image, &plan);
}

#[test]
fn a_disk_holding_a_pool_is_refused_unless_the_answer_wipes_it() {
    let scratch = Scratch::new("refuse");
    let image = scratch.image("pool.img", 8 * GIB);
    put_pool_labels(&image, 0, 8 * GIB);
    let before = sha256(&image);

    // A plan made when the disk was blank (or a wrong inventory): refused.
    let stale = plan(&scratch, MINIMAL, "", vec![disk(&image, 8 * GIB, 512)]).expect("plan");
    let err = run(&stale).expect_err("refused");
    let text = format!("{err:#}");
    assert!(text.contains("holds ZFS pool `ztest` (active)"), "{text}");
    assert!(text.contains("does not say wipe = true"), "{text}");
    assert_eq!(sha256(&image), before, "nothing was written");

    // With wipe = true for this disk, it is erased and partitioned.
    let answer = format!("[disks.\"{}\"]\nwipe = true\n", image.display());
    let wiped = plan(&scratch, MINIMAL, &answer, vec![disk(&image, 8 * GIB, 512)]).expect("plan");
    run(&wiped).expect("partition");
    assert_eq!(zfs_label::read(&image), None, "no label left at either end");
    let whole = tool(
        "blkid",
        &["-p", "-o", "export", &image.display().to_string()],
    )
    .1;
    assert!(!whole.contains("zfs_member"), "{whole}");
}

#[test]
fn a_disk_not_in_the_plan_keeps_every_byte() {
    let scratch = Scratch::new("untouched");
    let target = scratch.image("target.img", 8 * GIB);
    let other = scratch.image("other.img", GIB);
    put_pool_labels(&other, 0, GIB);
    let before = sha256(&other);
    let mut holder = disk(&other, GIB, 512);
    holder.probed.push("zfs_member on the whole disk".into());
    let disks = vec![disk(&target, 8 * GIB, 512), holder];
    let plan = plan(&scratch, MINIMAL, "", disks).expect("plan");
    assert_eq!(plan.erase.len(), 1);
    assert_eq!(plan.erase[0].disk.path, target);
    run(&plan).expect("partition");
    assert_eq!(sha256(&other), before);
}

#[test]
fn a_dry_run_reads_and_writes_nothing() {
    let scratch = Scratch::new("dry");
    let image = scratch.image("d0.img", 8 * GIB);
    let before = sha256(&image);
    let plan = plan(&scratch, MINIMAL, "", vec![disk(&image, 8 * GIB, 512)]).expect("plan");
    let runner = Runner::new(None, true).expect("runner");
    disk::partition(&plan, &runner, &Options { wait: None }).expect("dry run");
    assert_eq!(sha256(&image), before);
}

#[test]
fn a_disk_of_another_size_is_not_the_planned_disk() {
    let scratch = Scratch::new("size");
    let image = scratch.image("d0.img", 8 * GIB);
    let plan = plan(&scratch, MINIMAL, "", vec![disk(&image, 9 * GIB, 512)]).expect("plan");
    let err = format!("{:#}", run(&plan).expect_err("refused"));
    assert!(
        err.contains("this is not the disk that was planned"),
        "{err}"
    );
}

#[test]
fn wiping_clears_tables_filesystems_and_pool_labels() {
    let scratch = Scratch::new("wipe");
    let image = scratch.image("old.img", 4 * GIB);
    let path = image.display().to_string();
    // An old install: ext4 in partition 1, a pool in partition 2.
    let (ok, out) = tool("sgdisk", &["-n", "1:1M:+1G", "-n", "2:0:0", &path]);
    assert!(ok, "sgdisk: {out}");
    let (ok, out) = tool(
        "mkfs.ext4",
        &["-q", "-F", "-E", &format!("offset={MIB}"), &path, "1G"],
    );
    assert!(ok, "mkfs.ext4: {out}");
    let p2 = (MIB + GIB, 4 * GIB - MIB - GIB - 33 * 512);
    put_pool_labels(&image, p2.0, p2.1);
    assert!(blkid_range(&image, MIB, GIB).contains("TYPE=ext4"));

    let runner = Runner::new(None, false).expect("runner");
    let mut device = Device::open_write(&image, 512).expect("open");
    let found = inspect::inspect(&mut device, &runner).expect("inspect");
    assert!(found.to_string().contains("ext4 on partition 1"), "{found}");
    assert!(found.to_string().contains("ZFS pool `ztest`"), "{found}");
    wipe::wipe(&mut device, &found.partitions).expect("wipe");
    drop(device);

    let (_, left) = tool("wipefs", &["-n", &path]);
    assert!(left.trim().is_empty(), "wipefs still finds: {left}");
    assert!(
        !blkid_range(&image, MIB, GIB).contains("TYPE="),
        "ext4 gone"
    );
    assert_eq!(
        zfs_label::read_range(&image, p2.0, p2.1),
        None,
        "pool labels gone"
    );
    let mut device = Device::open_read(&image, 512).expect("open");
    assert!(inspect::inspect(&mut device, &runner)
        .expect("inspect")
        .is_blank());
}

#[test]
fn installer_partition_from_a_saved_plan_logs_each_disk() {
    let scratch = Scratch::new("cli");
    let image = scratch.image("d0.img", 8 * GIB);
    let inventory = scratch.0.join("inventory.json");
    let disks = hearth_installer::inventory::Inventory {
        disks: vec![disk(&image, 8 * GIB, 512)],
    };
    fs::write(&inventory, serde_json::to_string(&disks).expect("json")).expect("inventory");
    let installer = env!("CARGO_BIN_EXE_hearth");
    let out = std::process::Command::new(installer)
        .args([
            "plan",
            "--profile",
            MINIMAL,
            "--json",
            "--inventory",
            &inventory.display().to_string(),
        ])
        .output()
        .expect("plan");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan_file = scratch.0.join("plan.json");
    fs::write(&plan_file, &out.stdout).expect("plan.json");
    let before = sha256(&image);

    let log = scratch.0.join("partition.log");
    let plan_arg = plan_file.display().to_string();
    let log_arg = log.display().to_string();
    let dry = std::process::Command::new(installer)
        .args(["partition", "--plan", &plan_arg, "--dry-run", "--wait", "0"])
        .output()
        .expect("dry run");
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    assert!(String::from_utf8_lossy(&dry.stderr).contains("would wipe, write 3 partitions"));
    assert_eq!(sha256(&image), before, "a dry run writes nothing");

    let real = std::process::Command::new(installer)
        .args([
            "partition",
            "--plan",
            &plan_arg,
            "--log",
            &log_arg,
            "--wait",
            "0",
        ])
        .output()
        .expect("partition");
    assert!(
        real.status.success(),
        "{}",
        String::from_utf8_lossy(&real.stderr)
    );
    let logged = fs::read_to_string(&log).expect("log");
    for line in [
        "holds nothing",
        "wiping nothing",
        "GPT written and verified",
        "$ blkid -p -o export",
    ] {
        assert!(logged.contains(line), "`{line}` not in the log:\n{logged}");
    }
    let (ok, out) = tool("sgdisk", &["-v", &image.display().to_string()]);
    assert!(ok && out.contains("No problems found"), "{out}");
}

/// The inventory an install cut off after partitioning leaves: the table
/// as sfdisk reads it, with GPT names as lsblk's PARTLABEL.
fn as_inventoried(image: &Path, size: u64) -> hearth_installer::inventory::Disk {
    let mut found = disk(image, size, 512);
    let table = sfdisk(image);
    found.partition_table = Some("gpt".into());
    for part in table["partitiontable"]["partitions"]
        .as_array()
        .expect("partitions")
    {
        found
            .partitions
            .push(hearth_installer::inventory::Partition {
                path: part["node"].as_str().unwrap_or_default().into(),
                size: hearth_installer::size::Bytes(part["size"].as_u64().unwrap_or(0) * 512),
                filesystem: None,
                label: None,
                partlabel: part["name"].as_str().map(String::from),
                mountpoints: Vec::new(),
            });
    }
    found
}

#[test]
fn an_install_cut_off_is_erased_again_without_wipe_and_a_finished_one_is_not() {
    let scratch = Scratch::new("unfinished");
    let image = scratch.image("d0.img", 8 * GIB);
    let first = plan(&scratch, MINIMAL, "", vec![disk(&image, 8 * GIB, 512)]).expect("plan");
    let runner = Runner::new(None, false).expect("runner");
    disk::partition_for_install(&first, &runner, &Options { wait: None }).expect("partition");
    let names: Vec<String> = as_inventoried(&image, 8 * GIB)
        .partitions
        .iter()
        .filter_map(|p| p.partlabel.clone())
        .collect();
    assert_eq!(names, ["bios-boot", "esp", disk::UNFINISHED]);

    // Cut off here: the next install erases the disk without wipe = true.
    let again =
        plan(&scratch, MINIMAL, "", vec![as_inventoried(&image, 8 * GIB)]).expect("planned again");
    assert!(
        again.erase[0].wipe && again.erase[0].holds.contains("cut off"),
        "{:?}",
        again.erase[0].holds
    );
    disk::partition_for_install(&again, &runner, &Options { wait: None })
        .expect("partitioned again");
    disk::finish(&again, &runner).expect("finished");
    let (ok, out) = tool("sgdisk", &["-v", &image.display().to_string()]);
    assert!(ok && out.contains("No problems found"), "sgdisk -v: {out}");
    check_table(&image, &again);

    // A finished install is someone's server: refused without wipe.
    let err =
        plan(&scratch, MINIMAL, "", vec![as_inventoried(&image, 8 * GIB)]).expect_err("refused");
    assert!(err.contains("wipe = true"), "{err}");
}
