//! Parsing `lsblk -J -b -o ...` into typed devices. Older util-linux
//! prints booleans and numbers as strings, newer as JSON values; both are read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};
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

/// lsblk's output: `{"blockdevices": [...]}`.
#[derive(Debug, Deserialize)]
struct Output {
    #[serde(default)]
    blockdevices: Vec<Device>,
}

/// One device of lsblk's JSON, with the columns of [`COLUMNS`].
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
struct Device {
    #[serde(deserialize_with = "text")]
    name: Option<String>,
    #[serde(deserialize_with = "text")]
    path: Option<String>,
    #[serde(rename = "type", deserialize_with = "text")]
    kind: Option<String>,
    #[serde(deserialize_with = "number")]
    size: u64,
    #[serde(deserialize_with = "number")]
    log_sec: u64,
    #[serde(deserialize_with = "number")]
    phy_sec: u64,
    #[serde(deserialize_with = "flag")]
    rota: bool,
    #[serde(deserialize_with = "text")]
    tran: Option<String>,
    #[serde(deserialize_with = "text")]
    model: Option<String>,
    #[serde(deserialize_with = "text")]
    serial: Option<String>,
    #[serde(deserialize_with = "flag")]
    rm: bool,
    #[serde(deserialize_with = "flag")]
    ro: bool,
    #[serde(deserialize_with = "text")]
    pttype: Option<String>,
    #[serde(deserialize_with = "text")]
    fstype: Option<String>,
    #[serde(deserialize_with = "text")]
    label: Option<String>,
    #[serde(deserialize_with = "text")]
    uuid: Option<String>,
    #[serde(deserialize_with = "text")]
    partlabel: Option<String>,
    /// util-linux before 2.37 has one mountpoint, later ones a list.
    #[serde(deserialize_with = "text")]
    mountpoint: Option<String>,
    mountpoints: Vec<Option<String>>,
    children: Vec<Device>,
}

impl Device {
    fn mountpoints(&self) -> Vec<PathBuf> {
        let many = self.mountpoints.iter().flatten();
        many.chain(&self.mountpoint).map(PathBuf::from).collect()
    }

    fn name(&self) -> String {
        self.name.clone().unwrap_or_default()
    }
}

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
    let output: Output = serde_json::from_str(json)?;
    Ok(output
        .blockdevices
        .iter()
        .filter(|d| match d.kind.as_deref() {
            Some("disk") => true,
            Some("loop") => loops,
            _ => false,
        })
        .filter(|d| d.size > 0)
        .filter(|d| !d.name().starts_with("zram"))
        .map(|d| disk(d, by_id))
        .collect())
}

fn disk(dev: &Device, by_id: &BTreeMap<PathBuf, Vec<String>>) -> Disk {
    let name = dev.name();
    let path = dev
        .path
        .as_ref()
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new("/dev").join(&name));
    let partitions: Vec<Partition> = dev.children.iter().map(partition).collect();
    let mut pools: Vec<PoolLabel> = dev.children.iter().filter_map(pool_label).collect();
    pools.extend(pool_label(dev));
    let mounts = dev
        .mountpoints()
        .into_iter()
        .chain(partitions.iter().flat_map(|p| p.mountpoints.clone()));
    let live_medium = mounts
        .into_iter()
        .any(|m| LIVE_MOUNTS.iter().any(|l| m == Path::new(l)));
    Disk {
        transport: transport(dev.tran.as_deref(), &name),
        by_id: by_id.get(&path).cloned().unwrap_or_default(),
        size: Bytes(dev.size),
        logical_sector: dev.log_sec.max(512) as u32,
        physical_sector: dev.phy_sec.max(512) as u32,
        rotational: dev.rota,
        model: dev.model.as_ref().map(|m| m.trim().to_string()),
        serial: dev.serial.as_ref().map(|s| s.trim().to_string()),
        removable: dev.rm,
        read_only: dev.ro,
        partition_table: dev.pttype.clone(),
        filesystem: dev.fstype.clone(),
        partitions,
        pools,
        live_medium,
        probed: Vec::new(),
        name,
        path,
    }
}

fn partition(dev: &Device) -> Partition {
    Partition {
        path: dev.path.as_ref().map(PathBuf::from).unwrap_or_default(),
        size: Bytes(dev.size),
        filesystem: dev.fstype.clone(),
        label: dev.label.clone(),
        partlabel: dev.partlabel.clone(),
        mountpoints: dev.mountpoints(),
    }
}

fn pool_label(dev: &Device) -> Option<PoolLabel> {
    if dev.fstype.as_deref() != Some("zfs_member") {
        return None;
    }
    Some(PoolLabel {
        pool: dev.label.clone().unwrap_or_else(|| "(unnamed)".into()),
        guid: dev.uuid.clone().unwrap_or_default(),
        device: dev.path.as_ref().map(PathBuf::from).unwrap_or_default(),
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

/// A column that may be absent, null, blank, a string or a number
/// (older util-linux prints numbers as strings).
fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) if !s.trim().is_empty() => Some(s),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

fn number<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_u64().unwrap_or(0),
        Value::String(s) => s.trim().parse().unwrap_or(0),
        _ => 0,
    })
}

/// A boolean column: true/false, or "1"/"0" from older util-linux.
fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Bool(b) => b,
        Value::String(s) => s == "1",
        Value::Number(n) => n.as_u64() == Some(1),
        _ => false,
    })
}
