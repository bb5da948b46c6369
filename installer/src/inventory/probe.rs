//! Reads the real machine: lsblk's JSON and the by-id links udev made.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use super::{lsblk, zfs_label, Inventory};

pub fn probe() -> Result<Inventory> {
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
    let mut disks = lsblk::parse_lsblk(&json, &by_id_links(Path::new("/dev/disk/by-id")))
        .context("parsing lsblk's JSON")?;
    // blkid names the pool; only the label itself says whether it was
    // exported, destroyed or is still in use by another system.
    for label in disks.iter_mut().flat_map(|d| d.pools.iter_mut()) {
        if let Some(read) = zfs_label::read(&label.device) {
            label.state = read.state_name().map(String::from);
        }
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
