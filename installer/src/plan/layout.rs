//! GPT layout of each erased disk, in bytes and in the disk's own sectors.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::inventory::Disk;
use crate::size::{Bytes, MIB};

pub const BIOS_BOOT_GUID: &str = "21686148-6449-6E6F-744E-656564454649";
pub const ESP_GUID: &str = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
/// "Solaris /usr & Apple ZFS", the type OpenZFS gives its own partitions.
pub const ZFS_GUID: &str = "6A898CC3-1DD2-11B2-99A6-080020736631";

pub const ESP_SIZE: u64 = 512 * MIB;
/// OpenZFS refuses a vdev under 64 MiB.
pub const ZFS_MIN: u64 = 64 * MIB;
/// Room for the system on the root pool: the unpacked image with a margin.
pub const ROOT_ZFS_MIN: u64 = 4 * 1024 * MIB;

/// The smallest disk the layout fits: the first and last MiB, BIOS boot
/// and ESP on a root disk, and the ZFS partition's minimum.
pub fn minimum(boot: bool) -> Bytes {
    Bytes(match boot {
        true => MIB + MIB + ESP_SIZE + ROOT_ZFS_MIN + MIB,
        false => MIB + ZFS_MIN + MIB,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PartitionKind {
    BiosBoot,
    Esp,
    Zfs,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PlannedPartition {
    pub number: u32,
    pub kind: PartitionKind,
    /// GPT partition name.
    pub name: String,
    pub type_guid: String,
    pub start: Bytes,
    pub size: Bytes,
    pub first_lba: u64,
    pub last_lba: u64,
    /// The device node it will have once the kernel reads the table.
    pub path: PathBuf,
}

/// Boot disks get BIOS boot, ESP and ZFS; other disks one ZFS partition.
/// Everything starts on a 1 MiB boundary; the last MiB stays free for the
/// backup GPT and for replacement disks a little smaller than this one.
pub fn partitions(disk: &Disk, boot: bool) -> Vec<PlannedPartition> {
    let end = (disk.size.0 / MIB) * MIB - MIB;
    let mut pieces: Vec<(PartitionKind, &str, &str, u64)> = Vec::new();
    if boot {
        pieces.push((PartitionKind::BiosBoot, "bios-boot", BIOS_BOOT_GUID, MIB));
        pieces.push((PartitionKind::Esp, "esp", ESP_GUID, ESP_SIZE));
    }
    let mut start = MIB;
    let mut out = Vec::new();
    let sector = u64::from(disk.logical_sector.max(512));
    let used: u64 = pieces.iter().map(|p| p.3).sum();
    pieces.push((
        PartitionKind::Zfs,
        "zfs",
        ZFS_GUID,
        end.saturating_sub(start + used),
    ));
    for (i, (kind, name, guid, size)) in pieces.into_iter().enumerate() {
        let number = i as u32 + 1;
        out.push(PlannedPartition {
            number,
            kind,
            name: name.to_string(),
            type_guid: guid.to_string(),
            start: Bytes(start),
            size: Bytes(size),
            first_lba: start / sector,
            last_lba: (start + size) / sector - 1,
            path: partition_path(disk, number),
        });
        start += size;
    }
    out
}

/// by-id links get "-partN"; kernel names ending in a digit get "pN".
pub fn partition_path(disk: &Disk, number: u32) -> PathBuf {
    if disk.by_id.is_empty() {
        let base = disk.path.display().to_string();
        let sep = if base.ends_with(|c: char| c.is_ascii_digit()) {
            "p"
        } else {
            ""
        };
        PathBuf::from(format!("{base}{sep}{number}"))
    } else {
        PathBuf::from(format!("{}-part{number}", disk.stable_path().display()))
    }
}
