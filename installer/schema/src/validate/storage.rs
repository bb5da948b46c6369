//! Pools, vdevs, disk filters and datasets.

use std::collections::BTreeMap;

use super::checks::{list, Findings};
use crate::answer::{Answer, PoolAnswer};
use crate::keypath::KeyPath;
use crate::profile::{DiskFilter, Encryption, KeySource, Pool, PoolRole, Profile, Topology};
use crate::size::Bytes;

const COMPRESSION: &str =
    "off, on, lz4, zstd, zstd-1 .. zstd-19, zstd-fast, gzip, gzip-1 .. gzip-9, zle, lzjb";
const RESERVED_POOL_NAMES: [&str; 8] = [
    "mirror", "raidz", "raidz1", "raidz2", "raidz3", "spare", "log", "cache",
];

pub fn check(out: &mut Findings, profile: &Profile) {
    let key = KeyPath::root().key("storage").key("pools");
    let pools = &profile.storage.pools;
    let roots = pools.iter().filter(|p| p.role == PoolRole::Root).count();
    if roots != 1 {
        out.push(
            key.clone(),
            format!("exactly one pool must have role = \"root\"; found {roots}"),
        );
    }
    let mut names: Vec<&str> = Vec::new();
    for (i, pool) in pools.iter().enumerate() {
        let at = key.index(i);
        if !is_pool_name(&pool.name) {
            out.push(at.key("name"), "must start with a letter and hold letters, digits, -, _ or .; not mirror, raidz*, spare, log or cache");
        } else if names.contains(&pool.name.as_str()) {
            out.push(
                at.key("name"),
                format!("pool `{}` is defined twice", pool.name),
            );
        }
        names.push(&pool.name);
        pool_shape(out, &at, pool);
    }
    claimed_twice(out, profile);
    datasets(out, profile, &names);
}

fn is_pool_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && !RESERVED_POOL_NAMES.contains(&name)
        && !name.starts_with("c0")
}

fn pool_shape(out: &mut Findings, at: &KeyPath, pool: &Pool) {
    vdevs(out, at, pool.topology, &pool.disks, pool.vdev_width);
    if !(9..=16).contains(&pool.ashift) {
        out.push(
            at.key("ashift"),
            format!(
                "{} is out of range; allowed: 9 to 16 (12 for 4 KiB sectors)",
                pool.ashift
            ),
        );
    }
    properties(out, &at.key("properties"), &pool.properties, POOL_OWN);
    properties(
        out,
        &at.key("dataset-properties"),
        &pool.dataset_properties,
        DATASET_OWN,
    );
    if let Some(given) = pool.compression.as_deref().filter(|c| !is_compression(c)) {
        out.push(
            at.key("compression"),
            format!("`{given}` is not a compression; allowed: {COMPRESSION}"),
        );
    }
    for (name, aux) in [("special", &pool.special), ("log", &pool.log)] {
        let Some(aux) = aux else { continue };
        if !matches!(aux.topology, Topology::Stripe | Topology::Mirror) {
            out.push(at.key(name).key("topology"), "allowed: stripe, mirror");
        }
        vdevs(out, &at.key(name), aux.topology, &aux.disks, None);
    }
    for (name, filter) in [("cache", &pool.cache), ("spare", &pool.spare)] {
        if let Some(filter) = filter {
            disk_filter(out, &at.key(name), filter);
        }
    }
    if let Some(encryption) = &pool.encryption {
        encryption_checks(out, &at.key("encryption"), pool, encryption);
    }
}

fn encryption_checks(out: &mut Findings, at: &KeyPath, pool: &Pool, encryption: &Encryption) {
    if encryption.key_file.is_some() {
        out.push(
            at.key("key-file"),
            "a key is one machine's, not a profile's: give `key-file` under [pools.<name>] in the answer (a raw 32-byte key beside it)",
        );
    }
    if pool.role == PoolRole::Root && encryption.key != KeySource::Passphrase {
        out.push(
            at.key("key"),
            "the root pool's key cannot be stored on the pool it unlocks; allowed: \"passphrase\"",
        );
    }
    if encryption.remote_unlock
        && (pool.role != PoolRole::Root || encryption.key != KeySource::Passphrase)
    {
        out.push(
            at.key("remote-unlock"),
            "only the root pool, with key = \"passphrase\", is unlocked in the initramfs",
        );
    }
}

fn vdevs(
    out: &mut Findings,
    at: &KeyPath,
    topology: Topology,
    filter: &DiskFilter,
    width: Option<u32>,
) {
    disk_filter(out, &at.key("disks"), filter);
    let per_vdev = width.unwrap_or(filter.count);
    if per_vdev == 0 {
        out.push(at.key("vdev-width"), "must be at least 1");
        return;
    }
    if per_vdev < topology.min_disks() {
        let where_ = if width.is_some() {
            at.key("vdev-width")
        } else {
            at.key("disks").key("count")
        };
        out.push(
            where_,
            format!(
                "a {} vdev needs at least {} disks, this one has {per_vdev}",
                topology.name(),
                topology.min_disks()
            ),
        );
    }
    if width.is_some() && !filter.count.is_multiple_of(per_vdev) {
        out.push(
            at.key("vdev-width"),
            format!(
                "{} disks do not split into vdevs of {per_vdev}",
                filter.count
            ),
        );
    }
}

fn disk_filter(out: &mut Findings, at: &KeyPath, filter: &DiskFilter) {
    if filter.count == 0 {
        out.push(at.key("count"), "must be at least 1");
    }
    if let (Some(min), Some(max)) = (filter.min_size, filter.max_size) {
        if min > max {
            out.push(
                at.key("min-size"),
                format!("min-size {min} is larger than max-size {max}"),
            );
        }
    }
    let globs = [("model", &filter.model), ("serial", &filter.serial)];
    for (name, glob) in globs {
        if let Some(glob) = glob {
            if glob::Pattern::new(glob).is_err() {
                out.push(at.key(name), format!("`{glob}` is not a valid glob"));
            }
        }
    }
    for (i, glob) in filter.by_id.iter().enumerate() {
        if glob::Pattern::new(glob).is_err() {
            out.push(
                at.key("by-id").index(i),
                format!("`{glob}` is not a valid glob"),
            );
        }
    }
}

/// Two pools whose filters name the same exact disk would fight over it.
fn claimed_twice(out: &mut Findings, profile: &Profile) {
    let mut owners: BTreeMap<String, (usize, &str)> = BTreeMap::new();
    for (i, pool) in profile.storage.pools.iter().enumerate() {
        for filter in filters(pool) {
            let exact = filter
                .by_id
                .iter()
                .chain(filter.serial.iter())
                .filter(|g| !has_wildcard(g));
            for disk in exact {
                match owners.get(disk) {
                    Some((other, name)) if *other != i => out.push(
                        KeyPath::root().key("storage").key("pools").index(i).key("disks"),
                        format!("disk `{disk}` is also claimed by pool `{name}`; a disk belongs to one pool"),
                    ),
                    _ => {
                        owners.insert(disk.clone(), (i, &pool.name));
                    }
                }
            }
        }
    }
}

pub fn filters(pool: &Pool) -> Vec<&DiskFilter> {
    let mut all = vec![&pool.disks];
    all.extend(pool.special.iter().map(|a| &a.disks));
    all.extend(pool.log.iter().map(|a| &a.disks));
    all.extend(pool.cache.iter());
    all.extend(pool.spare.iter());
    all
}

fn has_wildcard(text: &str) -> bool {
    text.contains(['*', '?', '['])
}

pub fn is_compression(value: &str) -> bool {
    let level = |prefix: &str, max: u32| {
        value
            .strip_prefix(prefix)
            .and_then(|n| n.parse::<u32>().ok())
            .is_some_and(|n| (1..=max).contains(&n))
    };
    matches!(
        value,
        "off" | "on" | "lz4" | "zstd" | "zstd-fast" | "gzip" | "zle" | "lzjb"
    ) || level("zstd-", 19)
        || level("gzip-", 9)
        || level("zstd-fast-", 1000)
}

fn mountpoint_rule(out: &mut Findings, key: KeyPath, mountpoint: &std::path::Path) {
    let text = mountpoint.to_string_lossy();
    if text == "none" || text == "legacy" {
        return;
    }
    if !super::text::is_path(mountpoint) {
        out.push(
            key,
            format!("{}, \"none\" or \"legacy\"", super::text::PATH_RULE),
        );
    } else if super::text::is_system_path(mountpoint) {
        out.push(
            key,
            format!("{text} belongs to the operating system; a dataset mounts elsewhere, e.g. /srv/data"),
        );
    }
}

fn datasets(out: &mut Findings, profile: &Profile, pools: &[&str]) {
    let key = KeyPath::root().key("storage").key("datasets");
    let mut seen: Vec<&str> = Vec::new();
    for (i, dataset) in profile.storage.datasets.iter().enumerate() {
        let at = key.index(i);
        let pool = dataset.name.split('/').next().unwrap_or("");
        if !dataset.name.contains('/') || dataset.name.split('/').any(|p| !is_dataset_part(p)) {
            out.push(
                at.key("name"),
                "must be pool/name[/name...] with letters, digits, -, _, . or :",
            );
        } else if !pools.contains(&pool) {
            out.push(
                at.key("name"),
                format!(
                    "no pool `{pool}` in storage.pools; allowed: {}",
                    list(pools)
                ),
            );
        }
        if seen.contains(&dataset.name.as_str()) {
            out.push(
                at.key("name"),
                format!("dataset `{}` is defined twice", dataset.name),
            );
        }
        seen.push(&dataset.name);
        if Some(&dataset.name) == crate::datasets::state(profile).as_ref() {
            out.push(
                at.key("name"),
                format!(
                    "`{}` is where Hearth keeps the server's state (keys, secrets); name this dataset otherwise",
                    dataset.name
                ),
            );
        }
        if let Some(mountpoint) = &dataset.mountpoint {
            mountpoint_rule(out, at.key("mountpoint"), mountpoint);
        }
        properties(out, &at.key("properties"), &dataset.properties, DATASET_OWN);
        if let Some(Bytes(size)) = dataset.recordsize {
            if !size.is_power_of_two() || !(512..=16 << 20).contains(&size) {
                out.push(
                    at.key("recordsize"),
                    "must be a power of two from 512 to 16M",
                );
            }
        }
        if let Some(compression) = &dataset.compression {
            if !is_compression(compression) {
                out.push(
                    at.key("compression"),
                    format!("`{compression}` is not a compression; allowed: {COMPRESSION}"),
                );
            }
        }
    }
}

use super::text::is_dataset_part;

/// Properties Hearth sets from keys of its own, or must not be moved.
const POOL_OWN: &[(&str, &str)] = &[
    ("ashift", "the pool's `ashift` key"),
    ("altroot", "nothing: the installer sets it while installing"),
    ("cachefile", "nothing: the installer sets it"),
    (
        "readonly",
        "nothing: a read-only pool cannot be installed to",
    ),
];
const DATASET_OWN: &[(&str, &str)] = &[
    ("encryption", "the pool's [encryption] section"),
    ("keyformat", "the pool's [encryption] section"),
    ("keylocation", "the pool's [encryption] section"),
    ("compression", "the `compression` key"),
];

/// `-o name=value` pairs: ZFS's name alphabet (user properties hold a
/// colon), one-line values, and none that another key owns.
fn properties(
    out: &mut Findings,
    at: &KeyPath,
    props: &BTreeMap<String, String>,
    own: &[(&str, &str)],
) {
    for (name, value) in props {
        let key = at.key(name.clone());
        let name_ok = !name.is_empty()
            && name.len() <= 256
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_:.-".contains(c));
        if !name_ok {
            out.push(
                key,
                "a property name is lowercase letters, digits, _ : . or -, starting with a letter",
            );
        } else if let Some((_, instead)) = own.iter().find(|(own, _)| own == name) {
            out.push(key, format!("`{name}` is not set here; use {instead}"));
        } else if value.is_empty() || value.len() > 1024 || !super::text::is_one_line(value) {
            out.push(key, "a property value is 1 to 1024 characters on one line");
        } else if name == "mountpoint" {
            mountpoint_rule(out, key, std::path::Path::new(value));
        }
    }
}

/// Pool entries of an answer: keep or pin disks, never both, and only for
/// pools that exist in the profile or (for keep) on the disks.
pub fn answer_pools(out: &mut Findings, answer: &Answer, profile: &Profile) {
    let names: Vec<&str> = profile
        .storage
        .pools
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    let mut owners: BTreeMap<&str, &str> = BTreeMap::new();
    for (name, pool) in &answer.pools {
        let at = KeyPath::root().key("pools").key(name.clone());
        if pool.keep && !pool.disks.is_empty() {
            out.push(
                at.key("disks"),
                "a kept pool is found by its labels and never changed; remove `disks`",
            );
        }
        if !pool.keep && !names.contains(&name.as_str()) {
            out.push(at.clone(), format!("no pool `{name}` in profile `{}`; allowed: {} (or keep = true for an existing pool)", profile.name, list(&names)));
        }
        if let Some(planned) = profile.storage.pools.iter().find(|p| &p.name == name) {
            let topology = pool.topology.unwrap_or(planned.topology);
            let count = if pool.disks.is_empty() {
                planned.disks.count
            } else {
                pool.disks.len() as u32
            };
            let width = if pool.topology.is_some() {
                count
            } else {
                planned.vdev_width.unwrap_or(count)
            };
            if width < topology.min_disks() {
                let key = if pool.topology.is_some() {
                    at.key("topology")
                } else {
                    at.key("disks")
                };
                out.push(
                    key,
                    format!(
                        "a {} vdev needs at least {} disks; this pool would get {width}",
                        topology.name(),
                        topology.min_disks()
                    ),
                );
            }
        }
        let is_root = profile
            .storage
            .pools
            .iter()
            .any(|p| &p.name == name && p.role == PoolRole::Root);
        if pool.keep && is_root {
            out.push(
                at.key("keep"),
                "the root pool is always made anew; keep data pools only",
            );
        }
        let planned = profile.storage.pools.iter().find(|p| &p.name == name);
        answer_keys(out, &at, pool, planned.and_then(|p| p.encryption.as_ref()));
        for (i, disk) in pool.disks.iter().enumerate() {
            if let Some(other) = owners.insert(disk, name) {
                out.push(
                    at.key("disks").index(i),
                    format!("disk `{disk}` is also given to pool `{other}`"),
                );
            }
        }
    }
}

/// ZFS takes passphrases of 8 to 512 bytes.
pub const PASSPHRASE_LEN: std::ops::RangeInclusive<usize> = 8..=512;

/// A pool's key material in the answer fits how the pool is encrypted; a
/// kept pool takes whichever it was made with.
fn answer_keys(out: &mut Findings, at: &KeyPath, pool: &PoolAnswer, planned: Option<&Encryption>) {
    if let Some(passphrase) = &pool.passphrase {
        let at = match pool.passphrase_file {
            Some(_) => at.key("passphrase-file"),
            None => at.key("passphrase"),
        };
        if !PASSPHRASE_LEN.contains(&passphrase.len()) {
            out.push(
                at.clone(),
                format!(
                    "a ZFS passphrase is 8 to 512 bytes; this one is {}",
                    passphrase.len()
                ),
            );
        } else if !super::text::is_one_line(passphrase) {
            out.push(at.clone(), "a passphrase is one line");
        }
        if !pool.keep && planned.is_none_or(|e| e.key != KeySource::Passphrase) {
            out.push(
                at,
                "this pool is not encrypted with key = \"passphrase\" in the profile",
            );
        }
    }
    if pool.key_file.is_some() && !pool.keep && planned.is_none_or(|e| e.key != KeySource::File) {
        out.push(
            at.key("key-file"),
            "this pool is not encrypted with key = \"file\" in the profile (key = \"generate\" makes its own)",
        );
    }
}
