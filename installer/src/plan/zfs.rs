//! The pools and datasets a plan makes, with every property spelled out;
//! `command` renders their command lines.

use std::collections::BTreeMap;

use super::layout::partition_path;
use super::select::Selection;
use super::{keys, DatasetPlan, PoolAction, PoolPlan, VdevClass, VdevPlan};
use crate::datasets;
use crate::profile::{KeySource, Pool, PoolRole, Profile};
use crate::services::encryption;

/// Where the installer mounts the new system while it builds it.
pub const ALTROOT: &str = "/mnt/hearth";

/// Defaults from the OpenZFS root-on-ZFS guide; the profile overrides them.
fn pool_defaults(pool: &Pool) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let mut props: BTreeMap<String, String> = [("autotrim", "on"), ("cachefile", "none")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    props.insert("ashift".into(), pool.ashift.to_string());
    let mut fs: BTreeMap<String, String> = [
        ("acltype", "posixacl"),
        ("xattr", "sa"),
        ("dnodesize", "auto"),
        ("normalization", "formD"),
        ("relatime", "on"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    fs.insert("compression".into(), pool.compression().to_string());
    match pool.role {
        PoolRole::Root => {
            fs.insert("canmount".into(), "off".into());
            fs.insert("mountpoint".into(), "/".into());
        }
        PoolRole::Data => {
            fs.insert("mountpoint".into(), format!("/{}", pool.name));
        }
    }
    if let Some(encryption) = &pool.encryption {
        fs.insert("encryption".into(), "aes-256-gcm".into());
        let (format, location) = match encryption.key {
            KeySource::Passphrase => ("passphrase".to_string(), "prompt".to_string()),
            KeySource::File | KeySource::Generate => (
                "raw".to_string(),
                format!("file://{}", encryption::key_file(&pool.name)),
            ),
        };
        fs.insert("keyformat".into(), format);
        fs.insert("keylocation".into(), location);
    }
    props.extend(pool.properties.clone());
    fs.extend(pool.dataset_properties.clone());
    (props, fs)
}

pub fn pools(profile: &Profile, selection: &Selection) -> Vec<PoolPlan> {
    let mut plans = Vec::new();
    for pool in &profile.storage.pools {
        if selection.kept.contains(&pool.name) {
            continue;
        }
        let (properties, dataset_properties) = pool_defaults(pool);
        let mut vdevs = Vec::new();
        for members in selection.members.iter().filter(|m| m.pool == pool.name) {
            let width = members.width.unwrap_or(members.disks.len() as u32).max(1) as usize;
            let number = if pool.role == PoolRole::Root && members.class == VdevClass::Data {
                3
            } else {
                1
            };
            for group in members.disks.chunks(width) {
                vdevs.push(VdevPlan {
                    class: members.class,
                    topology: members.topology,
                    members: group.iter().map(|d| partition_path(d, number)).collect(),
                });
            }
        }
        plans.push(PoolPlan {
            name: pool.name.clone(),
            role: pool.role,
            action: PoolAction::Create,
            properties,
            dataset_properties,
            vdevs,
            encryption: keys::pool_key(pool),
        });
    }
    for name in &selection.kept {
        let declared = profile.storage.pools.iter().find(|p| &p.name == name);
        plans.push(PoolPlan {
            name: name.clone(),
            role: PoolRole::Data,
            action: PoolAction::Import,
            properties: BTreeMap::new(),
            dataset_properties: BTreeMap::new(),
            vdevs: Vec::new(),
            encryption: declared.and_then(keys::pool_key),
        });
    }
    plans
}

/// Datasets in creation order; parents the profile does not declare are made
/// with canmount=off so that they never hide what lies below their mountpoint.
pub fn datasets(profile: &Profile, selection: &Selection) -> Vec<DatasetPlan> {
    let specs = datasets::all(profile);
    let declared: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    let mut done: Vec<String> = Vec::new();
    let mut plans = Vec::new();
    for spec in &specs {
        let pool = spec.name.split('/').next().unwrap_or_default();
        let kept = selection.kept.iter().any(|k| k == pool);
        let mut parent = String::new();
        let parts: Vec<&str> = spec.name.split('/').collect();
        for part in &parts[1..parts.len().saturating_sub(1)] {
            parent = if parent.is_empty() {
                format!("{pool}/{part}")
            } else {
                format!("{parent}/{part}")
            };
            if declared.contains(&parent.as_str()) || done.contains(&parent) {
                continue;
            }
            plans.push(DatasetPlan {
                name: parent.clone(),
                properties: BTreeMap::from([("canmount".into(), "off".into())]),
                only_if_missing: kept,
            });
            done.push(parent.clone());
        }
        plans.push(DatasetPlan {
            name: spec.name.clone(),
            properties: spec.properties.clone(),
            only_if_missing: kept,
        });
        done.push(spec.name.clone());
    }
    plans
}
