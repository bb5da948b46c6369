use std::collections::BTreeMap;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::size::Bytes;

/// Pools and datasets.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Storage {
    pub pools: Vec<Pool>,
    /// Datasets beyond the system ones the installer makes on the root pool.
    #[serde(default)]
    pub datasets: Vec<Dataset>,
}

/// A ZFS pool and the disks it is made of.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Pool {
    pub name: String,
    /// "root" holds the system (exactly one pool); "data" holds the rest.
    pub role: PoolRole,
    pub topology: Topology,
    /// Which disks make the data vdevs.
    pub disks: DiskFilter,
    /// Disks per vdev; several vdevs are striped (e.g. 4 disks, mirror,
    /// width 2 = two mirrors). Default: all disks in one vdev.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vdev_width: Option<u32>,
    /// log2 of the sector size ZFS writes (9 to 16; 12 = 4 KiB).
    #[serde(default = "default_ashift")]
    pub ashift: u8,
    /// off, lz4, zstd, zstd-1 .. zstd-19, gzip, gzip-1 .. gzip-9, zle.
    /// Default: lz4 for the root pool (the system unpacks a third faster
    /// than with zstd on a slow CPU, and it is small), zstd for data pools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Encryption>,
    /// Special allocation class vdev (metadata, small blocks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub special: Option<AuxVdev>,
    /// Separate intent log (SLOG).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<AuxVdev>,
    /// L2ARC cache disks (always striped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<DiskFilter>,
    /// Hot spares.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spare: Option<DiskFilter>,
    /// Pool properties (`zpool create -o`).
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
    /// Properties of the pool's root dataset (`zpool create -O`).
    #[serde(default)]
    pub dataset_properties: BTreeMap<String, String>,
    /// When the pool is scrubbed: "weekly", "monthly", "off", or a
    /// systemd calendar event.
    #[serde(default = "monthly")]
    pub scrub: String,
    /// When the pool is trimmed, as `scrub`; default: monthly when every
    /// disk of the pool is solid-state, otherwise off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trim: Option<String>,
}

fn monthly() -> String {
    "monthly".into()
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum PoolRole {
    Root,
    Data,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum Topology {
    Stripe,
    Mirror,
    Raidz1,
    Raidz2,
    Raidz3,
}

impl Topology {
    pub const ALL: [Topology; 5] = [
        Topology::Stripe,
        Topology::Mirror,
        Topology::Raidz1,
        Topology::Raidz2,
        Topology::Raidz3,
    ];

    /// Fewest disks one vdev of this kind may have.
    pub fn min_disks(self) -> u32 {
        match self {
            Topology::Stripe => 1,
            Topology::Mirror => 2,
            Topology::Raidz1 => 3,
            Topology::Raidz2 => 4,
            Topology::Raidz3 => 5,
        }
    }

    /// The word `zpool create` takes, if any.
    pub fn keyword(self) -> Option<&'static str> {
        match self {
            Topology::Stripe => None,
            Topology::Mirror => Some("mirror"),
            Topology::Raidz1 => Some("raidz1"),
            Topology::Raidz2 => Some("raidz2"),
            Topology::Raidz3 => Some("raidz3"),
        }
    }

    pub fn name(self) -> &'static str {
        self.keyword().unwrap_or("stripe")
    }
}

/// A special or log vdev.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct AuxVdev {
    /// stripe or mirror.
    #[serde(default = "mirror")]
    pub topology: Topology,
    pub disks: DiskFilter,
}

fn mirror() -> Topology {
    Topology::Mirror
}

/// Chooses disks from the machine's inventory. Every given criterion must hold.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct DiskFilter {
    /// How many disks.
    #[serde(default = "one")]
    pub count: u32,
    #[serde(default)]
    pub kind: DiskKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<Transport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_size: Option<Bytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size: Option<Bytes>,
    /// Glob over the disk's model, e.g. "Samsung*".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Glob over the disk's serial number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    /// Globs over /dev/disk/by-id names; a disk matches if any link matches any glob.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub by_id: Vec<String>,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum DiskKind {
    #[default]
    Any,
    /// Solid state, any transport (SATA/SAS/NVMe).
    Ssd,
    /// Rotational.
    Hdd,
    /// NVMe only.
    Nvme,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum Transport {
    Sata,
    Sas,
    Nvme,
    Usb,
    Virtio,
    Scsi,
    Unknown,
}

/// ZFS native encryption (aes-256-gcm) of the pool's root dataset and all below it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Encryption {
    pub key: KeySource,
    /// Refused: a key is one machine's, so it is the answer's `key-file`
    /// under [pools.<name>]. Read only to say so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
    /// Root pool with a passphrase: SSH into the initramfs (dropbear, port
    /// 2222, the root SSH keys only) to type it remotely.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub remote_unlock: bool,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum KeySource {
    /// A passphrase typed at every boot (the root pool's in the initramfs).
    #[serde(alias = "prompt")]
    Passphrase,
    /// A raw 32-byte key given in `key-file` (or the answer's), installed
    /// root-only at /etc/zfs/keys/<pool>.key (data pools only).
    File,
    /// A raw key generated at install time, kept at /etc/zfs/keys/<pool>.key
    /// (data pools only).
    Generate,
}

/// Key material read from a file: never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyBytes(pub Vec<u8>);

impl std::fmt::Debug for KeyBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyBytes({} bytes)", self.0.len())
    }
}

/// A dataset and its properties.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Dataset {
    /// Full name including the pool, e.g. "tank/media".
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mountpoint: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<Bytes>,
    /// A power of two from 512 to 16M.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recordsize: Option<Bytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<String>,
    /// Any other `zfs create -o` properties.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
}

fn default_ashift() -> u8 {
    12
}

impl Pool {
    /// The pool's compression, its role's default when not given.
    pub fn compression(&self) -> &str {
        match (&self.compression, self.role) {
            (Some(given), _) => given,
            (None, PoolRole::Root) => "lz4",
            (None, PoolRole::Data) => "zstd",
        }
    }
}
