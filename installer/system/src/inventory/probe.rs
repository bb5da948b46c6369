//! Reads the real machine: lsblk's JSON and the by-id links udev made.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use super::{lsblk, zfs_label, Disk, Inventory};
use crate::runner::Runner;
use crate::{device::Device, inspect};

pub fn probe() -> Result<Inventory> {
    probe_with(false)
}

/// With `loops`, attached loop devices are listed as disks too.
pub fn probe_with(loops: bool) -> Result<Inventory> {
    let output = Command::new("lsblk")
        .args(["-J", "-b", "-o", lsblk::COLUMNS])
        .output()
        .context("running lsblk (util-linux)")?;
    if !output.status.success() {
        bail!(
            "lsblk failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let json = String::from_utf8(output.stdout).context("lsblk printed non-UTF-8 output")?;
    let mut disks =
        lsblk::parse_lsblk_with(&json, &by_id_links(Path::new("/dev/disk/by-id")), loops)
            .context("parsing lsblk's JSON")?;
    // lsblk takes filesystems and pool names from udev's database, which a
    // minimal or early system may lack: every disk is also probed directly.
    let runner = Runner::new(None, false)?;
    for disk in &mut disks {
        probe_disk(disk, &runner);
    }
    Ok(Inventory { disks })
}

/// Device path -> by-id names of whole disks (partition links end in -partN).
fn by_id_links(dir: &Path) -> BTreeMap<PathBuf, Vec<String>> {
    let mut links: BTreeMap<PathBuf, Vec<String>> = BTreeMap::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return links;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if name.contains("-part") {
            continue;
        }
        if let Ok(target) = fs::canonicalize(entry.path()) {
            links.entry(target).or_default().push(name);
        }
    }
    for names in links.values_mut() {
        // Stable order, with the most specific kinds of name first.
        names.sort_by_key(|n| (rank(n), n.clone()));
    }
    links
}

fn rank(name: &str) -> u8 {
    match name.split('-').next() {
        Some("nvme" | "ata" | "scsi" | "virtio" | "usb") => 0,
        Some("wwn") => 2,
        _ => 1,
    }
}

/// Adds what reading the disk itself finds and lsblk did not report.
fn probe_disk(disk: &mut Disk, runner: &Runner) {
    for label in &mut disk.pools {
        if let Some(read) = zfs_label::read(&label.device) {
            label.state = read.state_name().map(String::from);
        }
    }
    let Ok(mut device) = Device::open_read(&disk.path, u64::from(disk.logical_sector)) else {
        return;
    };
    let Ok(found) = inspect::inspect(&mut device, runner) else {
        return;
    };
    if disk.partition_table.is_none() {
        disk.partition_table = found.partition_tables.first().map(|t| t.to_lowercase());
    }
    for (place, kind) in &found.signatures {
        let known = disk.filesystem.as_deref() == Some(kind.as_str())
            || disk
                .partitions
                .iter()
                .any(|p| p.filesystem.as_deref() == Some(kind.as_str()));
        if !known && kind != "zfs_member" {
            disk.probed.push(format!("{kind} on {place}"));
        }
    }
    for pool in found.pools_read {
        if !disk.pools.iter().any(|p| p.guid == pool.guid) {
            disk.pools.push(pool);
        }
    }
}
