//! The inventory: lsblk's JSON (new and old util-linux) parsed into disks,
//! and the real machine read by `hearth disks`.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use hearth_installer::inventory::{parse_lsblk, Inventory};
use hearth_installer::profile::{DiskKind, Transport};

fn fixture(
    name: &str,
    by_id: &BTreeMap<PathBuf, Vec<String>>,
) -> Vec<hearth_installer::inventory::Disk> {
    let json = fs::read_to_string(Path::new("tests/fixtures/lsblk").join(name)).expect("fixture");
    parse_lsblk(&json, by_id).expect("lsblk JSON parses")
}

#[test]
fn live_usb_machine() {
    let mut by_id = BTreeMap::new();
    by_id.insert(
        PathBuf::from("/dev/sda"),
        vec!["ata-Samsung_SSD_870_EVO_500GB_S6PXNS0T100001A".to_string()],
    );
    let disks = fixture("live-usb.json", &by_id);
    let names: Vec<&str> = disks.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(
        names,
        ["sda", "sdb", "sdc", "nvme0n1"],
        "the CD drive is not a disk"
    );

    let sda = &disks[0];
    assert_eq!(sda.kind(), DiskKind::Ssd);
    assert_eq!(sda.partition_table.as_deref(), Some("gpt"));
    assert_eq!(sda.partitions.len(), 3);
    assert_eq!(sda.pools.len(), 1);
    assert_eq!(sda.pools[0].pool, "rpool");
    assert_eq!(sda.pools[0].guid, "9114420173716216542");
    assert_eq!(sda.pools[0].device, Path::new("/dev/sda3"));
    assert!(sda.is_named("/dev/disk/by-id/ata-Samsung_SSD_870_EVO_500GB_S6PXNS0T100001A"));
    assert!(sda.is_named("S6PXNS0T100001A"));
    let contents = sda.contents().expect("sda holds data");
    assert!(
        contents.contains("ZFS pool `rpool`") && contents.contains("vfat"),
        "{contents}"
    );

    let sdb = &disks[1];
    assert_eq!(sdb.kind(), DiskKind::Hdd);
    assert_eq!(sdb.contents(), None, "a blank disk holds nothing");
    assert!(!sdb.live_medium);

    let stick = &disks[2];
    assert!(stick.live_medium, "mounted at /run/live/medium");
    assert!(stick.removable);
    assert_eq!(stick.transport, Transport::Usb);

    let nvme = &disks[3];
    assert_eq!(nvme.kind(), DiskKind::Nvme);
    assert_eq!(nvme.logical_sector, 4096);
    assert_eq!(
        nvme.model.as_deref(),
        Some("Samsung SSD 980 PRO 1TB"),
        "padding trimmed"
    );
}

#[test]
fn old_util_linux_prints_strings() {
    let disks = fixture("old-util-linux.json", &BTreeMap::new());
    assert_eq!(disks.len(), 1);
    let vda = &disks[0];
    assert!(vda.rotational);
    assert_eq!(vda.size.0, 8_589_934_592);
    assert_eq!(vda.transport, Transport::Virtio);
    assert_eq!(
        vda.pools[0].pool, "tank",
        "a whole-disk pool label counts too"
    );
}

#[test]
fn inventory_round_trips_through_json() {
    let disks = fixture("live-usb.json", &BTreeMap::new());
    let inventory = Inventory { disks };
    let json = serde_json::to_string(&inventory).expect("serialise");
    let back: Inventory = serde_json::from_str(&json).expect("parse back");
    assert_eq!(back, inventory);
}

/// Disks the kernel has, read from sysfs, independently of lsblk.
fn sysfs_disks() -> Vec<String> {
    let skip = ["loop", "ram", "zram", "sr", "dm-", "md", "nbd", "fd"];
    let mut names: Vec<String> = fs::read_dir("/sys/block")
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default();
    names.retain(|n| !skip.iter().any(|s| n.starts_with(s)));
    names.retain(|n| {
        fs::read_to_string(format!("/sys/block/{n}/size"))
            .is_ok_and(|s| s.trim().parse::<u64>().unwrap_or(0) > 0)
    });
    names.sort();
    names
}

#[test]
fn installer_disks_lists_this_machines_disks() {
    if Command::new("lsblk").arg("--version").output().is_err() {
        eprintln!("skipped: lsblk (util-linux) is not installed");
        return;
    }
    let output = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(["disks", "--json"])
        .output()
        .expect("run hearth disks");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let inventory: Inventory = serde_json::from_slice(&output.stdout).expect("JSON inventory");
    let mut listed: Vec<String> = inventory.disks.iter().map(|d| d.name.clone()).collect();
    listed.sort();
    assert_eq!(
        listed,
        sysfs_disks(),
        "hearth disks and /sys/block disagree"
    );
    for disk in &inventory.disks {
        let meta = fs::metadata(&disk.path).expect("disk node exists");
        assert!(
            meta.file_type().is_block_device(),
            "{} is a block device",
            disk.path.display()
        );
        let sectors: u64 = fs::read_to_string(format!("/sys/block/{}/size", disk.name))
            .expect("sysfs size")
            .trim()
            .parse()
            .expect("number");
        assert_eq!(disk.size.0, sectors * 512, "size of {}", disk.name);
    }
    let human = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .arg("disks")
        .output()
        .expect("run");
    assert!(human.status.success());
    let text = String::from_utf8_lossy(&human.stdout);
    for disk in &inventory.disks {
        assert!(text.contains(&disk.path.display().to_string()), "{text}");
    }
}

#[test]
fn the_disk_holding_root_is_never_a_target() {
    // Captured on the build machine: one virtio disk mounted at / and a zram swap.
    let disks = fixture("build-machine.json", &BTreeMap::new());
    assert_eq!(disks.len(), 1, "zram is not a disk");
    assert_eq!(disks[0].name, "vda");
    assert!(disks[0].live_medium, "the running system's disk is marked");
}
