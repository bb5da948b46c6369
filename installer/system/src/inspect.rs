//! What is on a device right now: partition tables, signatures blkid knows
//! (on the disk and inside each partition), and ZFS labels.

use std::fmt;

use anyhow::Result;

use super::device::Device;
use std::path::Path;

use crate::inventory::{zfs_label, PoolLabel};
use crate::runner::Runner;

#[derive(Debug, Default, PartialEq)]
pub struct Found {
    pub partition_tables: Vec<String>,
    /// (where, TYPE) as blkid reports it, e.g. ("partition 2", "vfat").
    pub signatures: Vec<(String, String)>,
    /// "pool `tank` (exported)".
    pub pools: Vec<String>,
    /// The same pools as the inventory records them.
    pub pools_read: Vec<PoolLabel>,
    /// Byte ranges of the partitions found, for wiping.
    pub partitions: Vec<(u64, u64)>,
}

impl Found {
    pub fn is_blank(&self) -> bool {
        self.partition_tables.is_empty() && self.signatures.is_empty() && self.pools.is_empty()
    }
}

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        for pool in &self.pools {
            parts.push(format!("ZFS {pool}"));
        }
        for table in &self.partition_tables {
            parts.push(format!("a {table} partition table"));
        }
        for (place, kind) in &self.signatures {
            parts.push(format!("{kind} on {place}"));
        }
        if parts.is_empty() {
            return f.write_str("nothing");
        }
        f.write_str(&parts.join(", "))
    }
}

pub fn inspect(device: &mut Device, runner: &Runner) -> Result<Found> {
    let mut found = Found::default();
    let sector = device.sector;
    let first = device.read_at(0, (2 * sector) as usize)?;
    let mbr = first[510] == 0x55 && first[511] == 0xAA;
    let gpt = &first[sector as usize..sector as usize + 8] == b"EFI PART";
    let backup = device.size >= sector && device.read_at(device.size - sector, 8)? == b"EFI PART";
    if gpt || backup {
        found.partition_tables.push(if gpt {
            "GPT".into()
        } else {
            "backup GPT".into()
        });
        found.partitions = gpt_ranges(device)?;
    } else if mbr && mbr_has_partitions(&first) {
        found.partition_tables.push("MBR (dos)".into());
        found.partitions = mbr_ranges(&first, sector);
    }
    if let Some(kind) = blkid_type(runner, device, None)? {
        if !matches!(kind.as_str(), "gpt" | "dos" | "PMBR") {
            found.signatures.push(("the whole disk".into(), kind));
        }
    }
    if let Some(label) = zfs_label::read(&device.path) {
        found.add_pool(&label, &device.path);
    }
    for (i, (start, len)) in found.partitions.clone().into_iter().enumerate() {
        if let Some(kind) = blkid_type(runner, device, Some((start, len)))? {
            found
                .signatures
                .push((format!("partition {}", i + 1), kind));
        }
        if let Some(label) = zfs_label::read_range(&device.path, start, len) {
            found.add_pool(&label, &device.path);
        }
    }
    found.pools.dedup();
    Ok(found)
}

impl Found {
    fn add_pool(&mut self, label: &zfs_label::Label, device: &Path) {
        let name = label.name.clone().unwrap_or_else(|| "?".into());
        let state = label.state_name().map(String::from);
        self.pools.push(format!(
            "pool `{name}` ({})",
            state.as_deref().unwrap_or("state unknown")
        ));
        self.pools_read.push(PoolLabel {
            pool: name,
            guid: label.pool_guid.map(|g| g.to_string()).unwrap_or_default(),
            device: device.to_path_buf(),
            state,
        });
    }
}

/// blkid's low-level probe (-p: no cache, no udev) of the disk or of a byte range.
fn blkid_type(
    runner: &Runner,
    device: &Device,
    range: Option<(u64, u64)>,
) -> Result<Option<String>> {
    let path = device.path.display().to_string();
    let mut args = vec!["-p".to_string(), "-o".into(), "export".into()];
    if let Some((start, len)) = range {
        args.extend(["-O".into(), start.to_string(), "-S".into(), len.to_string()]);
    }
    args.push(path);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (_, text) = runner.query("blkid", &args)?;
    let value = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .map(|v| v.trim_matches('"').to_string())
    };
    Ok(value("TYPE=").or_else(|| value("PTTYPE=")))
}

fn gpt_ranges(device: &mut Device) -> Result<Vec<(u64, u64)>> {
    let lb = if device.sector == 4096 {
        gpt::disk::LogicalBlockSize::Lb4096
    } else {
        gpt::disk::LogicalBlockSize::Lb512
    };
    let file = device.file.try_clone()?;
    let Ok(disk) = gpt::GptConfig::new()
        .writable(false)
        .logical_block_size(lb)
        .open_from_device(file)
    else {
        return Ok(Vec::new());
    };
    let sector = device.sector;
    Ok(disk
        .partitions()
        .values()
        .filter(|p| p.is_used())
        .map(|p| {
            (
                p.first_lba * sector,
                (p.last_lba + 1 - p.first_lba) * sector,
            )
        })
        .collect())
}

fn mbr_has_partitions(first: &[u8]) -> bool {
    (0..4).any(|i| first[446 + i * 16 + 4] != 0)
}

fn mbr_ranges(first: &[u8], sector: u64) -> Vec<(u64, u64)> {
    (0..4)
        .filter_map(|i| {
            let entry = &first[446 + i * 16..446 + (i + 1) * 16];
            let kind = entry[4];
            let start = u32::from_le_bytes([entry[8], entry[9], entry[10], entry[11]]) as u64;
            let len = u32::from_le_bytes([entry[12], entry[13], entry[14], entry[15]]) as u64;
            (kind != 0 && kind != 0xEE && len > 0).then_some((start * sector, len * sector))
        })
        .collect()
}
