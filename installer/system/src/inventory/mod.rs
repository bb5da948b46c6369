//! What disks a machine has. Collected from lsblk's JSON and /dev/disk/by-id
//! on the real machine (`probe`), saved and loaded as JSON so that plans can
//! be made for other machines and tests run on fixtures.

mod lsblk;
mod probe;
pub mod zfs_label;

pub use lsblk::{parse_lsblk, parse_lsblk_with};
pub use probe::{probe, probe_with};

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::profile::{DiskKind, Transport};
use crate::size::Bytes;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Inventory {
    pub disks: Vec<Disk>,
}

impl Inventory {
    /// What `hearth disks` prints: each disk, its names, and what it holds.
    pub fn report(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        for disk in &self.disks {
            let _ = writeln!(out, "{}", disk.describe());
            let _ = writeln!(
                out,
                "    transport {:?}, sectors {}/{} bytes{}",
                disk.transport,
                disk.logical_sector,
                disk.physical_sector,
                if disk.removable { ", removable" } else { "" }
            );
            for id in &disk.by_id {
                let _ = writeln!(out, "    /dev/disk/by-id/{id}");
            }
            let _ = match disk.contents() {
                Some(what) => writeln!(out, "    holds {what}"),
                None => writeln!(out, "    blank"),
            };
            if disk.live_medium {
                let _ = writeln!(out, "    runs the live system: never an install target");
            }
        }
        if self.disks.is_empty() {
            let _ = writeln!(out, "no disks found");
        }
        out
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Disk {
    /// Kernel name, e.g. "sda", "nvme0n1".
    pub name: String,
    pub path: PathBuf,
    /// Names under /dev/disk/by-id that point at the whole disk.
    #[serde(default)]
    pub by_id: Vec<String>,
    pub size: Bytes,
    pub logical_sector: u32,
    pub physical_sector: u32,
    pub rotational: bool,
    pub transport: Transport,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub serial: Option<String>,
    #[serde(default)]
    pub removable: bool,
    #[serde(default)]
    pub read_only: bool,
    /// "gpt" or "dos" when the disk has a partition table.
    #[serde(default)]
    pub partition_table: Option<String>,
    /// A filesystem or other signature on the whole disk.
    #[serde(default)]
    pub filesystem: Option<String>,
    #[serde(default)]
    pub partitions: Vec<Partition>,
    /// ZFS pool labels found on the disk or its partitions.
    #[serde(default)]
    pub pools: Vec<PoolLabel>,
    /// Holds the running live system (the USB stick or CD Hearth booted from).
    #[serde(default)]
    pub live_medium: bool,
    /// Signatures found by reading the disk that lsblk did not report,
    /// e.g. "ext4 on partition 1".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probed: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Partition {
    pub path: PathBuf,
    pub size: Bytes,
    #[serde(default)]
    pub filesystem: Option<String>,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub partlabel: Option<String>,
    #[serde(default)]
    pub mountpoints: Vec<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct PoolLabel {
    pub pool: String,
    /// The pool's GUID, as blkid reports it.
    pub guid: String,
    /// The device holding the label (the disk or one of its partitions).
    pub device: PathBuf,
    /// active, exported, destroyed, ... when the label could be read.
    #[serde(default)]
    pub state: Option<String>,
}

/// The GPT name Hearth gives a disk's ZFS partition while an install is
/// under way, and renames when it has finished: a disk whose every
/// partition is Hearth's and one of them bears this holds only Hearth's own
/// unfinished install, which a new install may erase without `wipe`.
pub const UNFINISHED: &str = "hearth-unfinished";
/// The GPT names of the partitions Hearth makes.
pub const HEARTH_PARTITIONS: [&str; 3] = ["bios-boot", "esp", "zfs"];

impl Disk {
    /// Whether the disk holds only an install of Hearth's that was cut off
    /// (its marker), and nothing else.
    pub fn unfinished_install(&self) -> bool {
        let names: Vec<Option<&str>> = self
            .partitions
            .iter()
            .map(|p| p.partlabel.as_deref())
            .collect();
        self.partition_table.as_deref() == Some("gpt")
            && names.contains(&Some(UNFINISHED))
            && names
                .iter()
                .all(|n| n.is_some_and(|n| n == UNFINISHED || HEARTH_PARTITIONS.contains(&n)))
            && self.filesystem.is_none()
    }

    /// A blank disk record for an image file or a device known only by path
    /// and size (planning for images, tests, benchmarks).
    pub fn blank(path: &std::path::Path, size: Bytes, logical_sector: u32) -> Disk {
        Disk {
            name: path
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default(),
            path: path.to_path_buf(),
            by_id: Vec::new(),
            size,
            logical_sector,
            physical_sector: logical_sector.max(4096),
            rotational: false,
            transport: Transport::Unknown,
            model: None,
            serial: None,
            removable: false,
            read_only: false,
            partition_table: None,
            filesystem: None,
            partitions: Vec::new(),
            pools: Vec::new(),
            live_medium: false,
            probed: Vec::new(),
        }
    }

    pub fn kind(&self) -> DiskKind {
        if self.transport == Transport::Nvme {
            DiskKind::Nvme
        } else if self.rotational {
            DiskKind::Hdd
        } else {
            DiskKind::Ssd
        }
    }

    /// Whether `name` (a /dev path, a by-id name or path, or a serial) means this disk.
    pub fn is_named(&self, name: &str) -> bool {
        let by_id = name.strip_prefix("/dev/disk/by-id/").unwrap_or(name);
        self.path.as_os_str() == name
            || self.name == name
            || self.by_id.iter().any(|id| id == by_id)
            || self.serial.as_deref() == Some(name)
    }

    /// The most stable name: the first by-id link, else the kernel path.
    pub fn stable_path(&self) -> PathBuf {
        match self.by_id.first() {
            Some(id) => PathBuf::from("/dev/disk/by-id").join(id),
            None => self.path.clone(),
        }
    }

    /// What is on the disk, in words, or None when it is blank.
    pub fn contents(&self) -> Option<String> {
        let mut found = Vec::new();
        for pool in &self.pools {
            let state = pool.state.as_deref().unwrap_or("state unknown");
            found.push(format!("ZFS pool `{}` ({state})", pool.pool));
        }
        if let Some(table) = &self.partition_table {
            let count = self.partitions.len();
            let noun = if count == 1 {
                "partition"
            } else {
                "partitions"
            };
            found.push(format!("{table} partition table with {count} {noun}"));
        }
        if let Some(fs) = self.filesystem.as_ref().filter(|fs| *fs != "zfs_member") {
            found.push(format!("{fs} filesystem"));
        }
        let filesystems: Vec<String> = self
            .partitions
            .iter()
            .filter_map(|p| p.filesystem.clone())
            .filter(|fs| fs != "zfs_member")
            .collect();
        if !filesystems.is_empty() {
            found.push(format!("filesystems: {}", filesystems.join(", ")));
        }
        found.extend(self.probed.iter().cloned());
        (!found.is_empty()).then(|| found.join("; "))
    }

    /// One line a person can recognise the disk by.
    pub fn describe(&self) -> String {
        format!(
            "{} {} {} ({}, serial {})",
            printable(&self.path.display().to_string()),
            self.size.decimal(),
            printable(self.model.as_deref().unwrap_or("unknown model")),
            kind_name(self.kind()),
            printable(self.serial.as_deref().unwrap_or("none")),
        )
    }
}

/// What a disk reports about itself, fit for one line of a preview: a
/// model string with a newline must not add lines to what the admin signs.
pub fn printable(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

pub fn kind_name(kind: DiskKind) -> &'static str {
    match kind {
        DiskKind::Any => "any",
        DiskKind::Ssd => "ssd",
        DiskKind::Hdd => "hdd",
        DiskKind::Nvme => "nvme",
    }
}

#[cfg(test)]
mod unfinished_tests {
    use super::*;

    fn with_labels(labels: &[&str]) -> Disk {
        let mut disk = Disk::blank(std::path::Path::new("/dev/vda"), Bytes(8 << 30), 512);
        disk.partition_table = Some("gpt".into());
        for (i, label) in labels.iter().enumerate() {
            disk.partitions.push(Partition {
                path: format!("/dev/vda{}", i + 1).into(),
                size: Bytes(1 << 20),
                filesystem: None,
                label: None,
                partlabel: Some(label.to_string()),
                mountpoints: Vec::new(),
            });
        }
        disk
    }

    #[test]
    fn only_hearths_partitions_with_its_marker_are_an_unfinished_install() {
        assert!(with_labels(&["bios-boot", "esp", UNFINISHED]).unfinished_install());
        assert!(with_labels(&[UNFINISHED]).unfinished_install());
        assert!(
            !with_labels(&["bios-boot", "esp", "zfs"]).unfinished_install(),
            "a finished install"
        );
        assert!(
            !with_labels(&["esp", UNFINISHED, "home"]).unfinished_install(),
            "someone's partition beside it"
        );
        assert!(!with_labels(&[]).unfinished_install());
    }
}
