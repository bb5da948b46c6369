//! Parsing `lsblk -J -b -o ...`. Older util-linux prints booleans and
//! numbers as strings, newer as JSON values; both are read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{Disk, Partition, PoolLabel};
use crate::profile::Transport;
use crate::size::Bytes;

/// The columns `probe` asks lsblk for.
pub const COLUMNS: &str =
    "NAME,PATH,TYPE,SIZE,LOG-SEC,PHY-SEC,ROTA,TRAN,MODEL,SERIAL,RM,RO,PTTYPE,FSTYPE,LABEL,UUID,PARTLABEL,MOUNTPOINTS";

/// Where a live system's medium is mounted.
const LIVE_MOUNTS: &[&str] = &[
    "/",
    "/run/live/medium",
    "/lib/live/mount/medium",
    "/cdrom",
    "/boot",
    "/boot/efi",
];

/// Disks from lsblk's JSON; `by_id` maps a device path to its by-id names.
pub fn parse_lsblk(
    json: &str,
    by_id: &BTreeMap<PathBuf, Vec<String>>,
) -> Result<Vec<Disk>, serde_json::Error> {
    parse_lsblk_with(json, by_id, false)
}

/// As `parse_lsblk`; with `loops`, attached loop devices count as disks
/// (for tests and for installing into image files).
pub fn parse_lsblk_with(
    json: &str,
    by_id: &BTreeMap<PathBuf, Vec<String>>,
    loops: bool,
) -> Result<Vec<Disk>, serde_json::Error> {
    let root: Value = serde_json::from_str(json)?;
    let devices = root
        .get("blockdevices")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    Ok(devices
        .iter()
        .filter(|d| match text(d, "type").as_deref() {
            Some("disk") => true,
            Some("loop") => loops,
            _ => false,
        })
        .filter(|d| number(d, "size") > 0)
        .filter(|d| !text(d, "name").unwrap_or_default().starts_with("zram"))
        .map(|d| disk(d, by_id))
        .collect())
}

fn disk(dev: &Value, by_id: &BTreeMap<PathBuf, Vec<String>>) -> Disk {
    let name = text(dev, "name").unwrap_or_default();
    let path = text(dev, "path")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new("/dev").join(&name));
    let children: Vec<&Value> = dev
        .get("children")
        .and_then(Value::as_array)
        .map(|c| c.iter().collect())
        .unwrap_or_default();
    let partitions: Vec<Partition> = children.iter().map(|c| partition(c)).collect();
    let mut pools: Vec<PoolLabel> = children.iter().filter_map(|c| pool_label(c)).collect();
    pools.extend(pool_label(dev));
    let mounts = mountpoints(dev)
        .into_iter()
        .chain(partitions.iter().flat_map(|p| p.mountpoints.clone()));
    let live_medium = mounts
        .into_iter()
        .any(|m| LIVE_MOUNTS.iter().any(|l| m == Path::new(l)));
    Disk {
        transport: transport(text(dev, "tran").as_deref(), &name),
        by_id: by_id.get(&path).cloned().unwrap_or_default(),
        size: Bytes(number(dev, "size")),
        logical_sector: number(dev, "log-sec").max(512) as u32,
        physical_sector: number(dev, "phy-sec").max(512) as u32,
        rotational: flag(dev, "rota"),
        model: text(dev, "model").map(|m| m.trim().to_string()),
        serial: text(dev, "serial").map(|s| s.trim().to_string()),
        removable: flag(dev, "rm"),
        read_only: flag(dev, "ro"),
        partition_table: text(dev, "pttype"),
        filesystem: text(dev, "fstype"),
        partitions,
        pools,
        live_medium,
        probed: Vec::new(),
        name,
        path,
    }
}

fn partition(dev: &Value) -> Partition {
    Partition {
        path: text(dev, "path").map(PathBuf::from).unwrap_or_default(),
        size: Bytes(number(dev, "size")),
        filesystem: text(dev, "fstype"),
        label: text(dev, "label"),
        partlabel: text(dev, "partlabel"),
        mountpoints: mountpoints(dev),
    }
}

fn pool_label(dev: &Value) -> Option<PoolLabel> {
    if text(dev, "fstype").as_deref() != Some("zfs_member") {
        return None;
    }
    Some(PoolLabel {
        pool: text(dev, "label").unwrap_or_else(|| "(unnamed)".into()),
        guid: text(dev, "uuid").unwrap_or_default(),
        device: text(dev, "path").map(PathBuf::from).unwrap_or_default(),
        state: None,
    })
}

fn transport(tran: Option<&str>, name: &str) -> Transport {
    match tran {
        Some("sata" | "ata") => Transport::Sata,
        Some("sas") => Transport::Sas,
        Some("nvme") => Transport::Nvme,
        Some("usb") => Transport::Usb,
        Some("virtio") => Transport::Virtio,
        Some(_) => Transport::Scsi,
        None if name.starts_with("nvme") => Transport::Nvme,
        None if name.starts_with("vd") => Transport::Virtio,
        None => Transport::Unknown,
    }
}

fn mountpoints(dev: &Value) -> Vec<PathBuf> {
    let single = dev
        .get("mountpoint")
        .and_then(Value::as_str)
        .map(PathBuf::from);
    let many = dev
        .get("mountpoints")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .map(PathBuf::from)
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    many.into_iter().chain(single).collect()
}

fn text(dev: &Value, key: &str) -> Option<String> {
    match dev.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn number(dev: &Value, key: &str) -> u64 {
    match dev.get(key) {
        Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
        Some(Value::String(s)) => s.trim().parse().unwrap_or(0),
        _ => 0,
    }
}

fn flag(dev: &Value, key: &str) -> bool {
    match dev.get(key) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "1",
        Some(Value::Number(n)) => n.as_u64() == Some(1),
        _ => false,
    }
}
