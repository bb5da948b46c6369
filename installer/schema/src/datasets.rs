//! The datasets a profile ends up with: the system ones the installer makes
//! on the root pool, the profile's own, and where each is mounted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::profile::{PoolRole, Profile};

/// Name of the boot environment below `<root>/ROOT`.
pub const BOOT_ENV: &str = "hearth";

/// The server's kept state (keys, secrets, first-boot records) lives in
/// `<first data pool>/hearth`, so a reinstall that keeps the pool gets it back.
pub const STATE_DATASET: &str = "hearth";
pub const STATE_MOUNTPOINT: &str = "/var/lib/hearth/kept";

/// One dataset with every property the installer sets on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DatasetSpec {
    pub name: String,
    pub properties: BTreeMap<String, String>,
    /// Made by the installer, not written in the profile.
    pub system: bool,
}

impl DatasetSpec {
    fn new(name: String, props: &[(&str, &str)]) -> Self {
        let properties = props
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        DatasetSpec {
            name,
            properties,
            system: true,
        }
    }
}

/// The root pool's system datasets, after the OpenZFS root-on-ZFS guide:
/// the OS in a boot environment, and what must survive a rollback of it apart.
pub fn system(root_pool: &str) -> Vec<DatasetSpec> {
    let noauto_snap = ("com.sun:auto-snapshot", "false");
    vec![
        DatasetSpec::new(
            format!("{root_pool}/ROOT"),
            &[("canmount", "off"), ("mountpoint", "none")],
        ),
        DatasetSpec::new(
            format!("{root_pool}/ROOT/{BOOT_ENV}"),
            &[("canmount", "noauto"), ("mountpoint", "/")],
        ),
        DatasetSpec::new(format!("{root_pool}/home"), &[]),
        DatasetSpec::new(format!("{root_pool}/home/root"), &[("mountpoint", "/root")]),
        DatasetSpec::new(format!("{root_pool}/var"), &[("canmount", "off")]),
        DatasetSpec::new(format!("{root_pool}/var/log"), &[]),
        DatasetSpec::new(format!("{root_pool}/var/cache"), &[noauto_snap]),
        DatasetSpec::new(format!("{root_pool}/var/tmp"), &[noauto_snap]),
    ]
}

/// The dataset that keeps the server's state, on the first data pool.
pub fn state(profile: &Profile) -> Option<String> {
    let pool = profile
        .storage
        .pools
        .iter()
        .find(|p| p.role == PoolRole::Data)?;
    Some(format!("{}/{STATE_DATASET}", pool.name))
}

/// Every dataset of the profile, system ones first, each as the profile asks.
pub fn all(profile: &Profile) -> Vec<DatasetSpec> {
    let mut specs = match root_pool(profile) {
        Some(root) => system(root),
        None => Vec::new(),
    };
    if let Some(name) = state(profile) {
        specs.push(DatasetSpec::new(
            name,
            &[
                ("mountpoint", STATE_MOUNTPOINT),
                ("com.sun:auto-snapshot", "false"),
            ],
        ));
    }
    for dataset in &profile.storage.datasets {
        let mut properties = dataset.properties.clone();
        if let Some(mountpoint) = &dataset.mountpoint {
            properties.insert("mountpoint".into(), mountpoint.display().to_string());
        }
        if let Some(quota) = dataset.quota {
            properties.insert("quota".into(), quota.to_string());
        }
        if let Some(recordsize) = dataset.recordsize {
            properties.insert("recordsize".into(), recordsize.to_string());
        }
        if let Some(compression) = &dataset.compression {
            properties.insert("compression".into(), compression.clone());
        }
        specs.retain(|s| s.name != dataset.name);
        specs.push(DatasetSpec {
            name: dataset.name.clone(),
            properties,
            system: false,
        });
    }
    specs
}

pub fn root_pool(profile: &Profile) -> Option<&str> {
    profile
        .storage
        .pools
        .iter()
        .find(|p| p.role == PoolRole::Root)
        .map(|p| p.name.as_str())
}

/// Where each dataset is mounted, following ZFS inheritance: an explicit
/// mountpoint, else the parent's plus the last name; `none` and
/// canmount=off datasets mount nothing but pass their path on.
pub fn mountpoints(profile: &Profile) -> BTreeMap<String, Option<PathBuf>> {
    let specs = all(profile);
    let by_name: BTreeMap<&str, &DatasetSpec> =
        specs.iter().map(|s| (s.name.as_str(), s)).collect();
    let mut result = BTreeMap::new();
    for pool in &profile.storage.pools {
        let mounted = pool.role == PoolRole::Data
            && pool.dataset_properties.get("canmount").map(String::as_str) != Some("off");
        result.insert(
            pool.name.clone(),
            pool_mountpoint(profile, &pool.name).filter(|_| mounted),
        );
    }
    for spec in &specs {
        let path = inherited(profile, &by_name, &spec.name);
        let mounted = spec.properties.get("canmount").map(String::as_str) != Some("off");
        result.insert(spec.name.clone(), path.filter(|_| mounted));
    }
    result
}

fn inherited(
    profile: &Profile,
    specs: &BTreeMap<&str, &DatasetSpec>,
    name: &str,
) -> Option<PathBuf> {
    if let Some(explicit) = specs.get(name).and_then(|s| s.properties.get("mountpoint")) {
        return (explicit != "none" && explicit != "legacy").then(|| PathBuf::from(explicit));
    }
    match name.rsplit_once('/') {
        Some((parent, last)) => inherited(profile, specs, parent).map(|p| p.join(last)),
        None => pool_mountpoint(profile, name),
    }
}

/// The pool's own dataset: "/" (canmount=off) for the root pool, "/<name>" for data.
fn pool_mountpoint(profile: &Profile, pool: &str) -> Option<PathBuf> {
    let found = profile.storage.pools.iter().find(|p| p.name == pool)?;
    if let Some(explicit) = found.dataset_properties.get("mountpoint") {
        return (explicit != "none").then(|| PathBuf::from(explicit));
    }
    Some(match found.role {
        PoolRole::Root => PathBuf::from("/"),
        PoolRole::Data => Path::new("/").join(pool),
    })
}

/// Where `dataset` is mounted; for one that mounts nothing, the path its
/// name suggests.
pub fn mounted_at(profile: &Profile, dataset: &str) -> PathBuf {
    mountpoints(profile)
        .get(dataset)
        .cloned()
        .flatten()
        .unwrap_or_else(|| Path::new("/").join(dataset))
}

/// The mounted dataset holding `path`, if any (the longest matching mountpoint).
pub fn holding(mounts: &BTreeMap<String, Option<PathBuf>>, path: &Path) -> Option<String> {
    mounts
        .iter()
        .filter_map(|(name, mount)| mount.as_ref().map(|m| (name, m)))
        .filter(|(name, mount)| path.starts_with(mount) && !is_boot_env(name, mount))
        .max_by_key(|(_, mount)| mount.components().count())
        .map(|(name, _)| name.clone())
}

/// The OS itself is mounted at / but shares belong on datasets of their own.
fn is_boot_env(name: &str, mount: &Path) -> bool {
    mount == Path::new("/") && name.contains("/ROOT/")
}
