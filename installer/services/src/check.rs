//! What the services' checks share: the profile's users, pools and
//! datasets to look names up in, and the rule that no two services share a
//! port. Each service's own checks are in its folder.

use std::collections::BTreeMap;
use std::path::Path;

use crate::datasets;
use crate::keypath::KeyPath;
use crate::ports;
use crate::profile::Profile;
use hearth_schema::validate::checks::{list, Findings};
use hearth_schema::validate::text;
use hearth_schema::validate::Finding;

/// Every service's findings and the ports they share, for
/// `load::profile_with`.
pub fn findings(profile: &Profile) -> Vec<Finding> {
    let mut out = Findings::default();
    let ctx = Context::new(profile);
    for service in crate::REGISTRY {
        service.check(profile, &ctx, &mut out);
    }
    port_collisions(&mut out, profile);
    crate::users::check(&mut out, profile);
    out.0
}

/// One finding for each name given twice.
pub fn unique<'a>(
    out: &mut Findings,
    at: &KeyPath,
    names: impl Iterator<Item = &'a str>,
    what: &str,
) {
    let mut seen = Vec::new();
    for name in names {
        if seen.contains(&name) {
            out.push(at.clone(), format!("{what} `{name}` is defined twice"));
        }
        seen.push(name);
    }
}

/// What the services' checks look things up in: the profile's users,
/// pools and datasets.
pub struct Context<'a> {
    pub users: Vec<&'a str>,
    pub pools: Vec<&'a str>,
    pub mounts: BTreeMap<String, Option<std::path::PathBuf>>,
}

/// Every dataset a service may use: the kept state's holds keys and is
/// never shared, exported or served.
fn usable_mounts(profile: &Profile) -> BTreeMap<String, Option<std::path::PathBuf>> {
    let mut mounts = datasets::mountpoints(profile);
    if let Some(state) = datasets::state(profile) {
        mounts.remove(&state);
    }
    mounts
}

impl<'a> Context<'a> {
    pub fn new(profile: &'a Profile) -> Self {
        Context {
            users: profile
                .system
                .users
                .iter()
                .map(|u| u.name.as_str())
                .collect(),
            pools: profile
                .storage
                .pools
                .iter()
                .map(|p| p.name.as_str())
                .collect(),
            mounts: usable_mounts(profile),
        }
    }

    pub fn user(&self, out: &mut Findings, key: KeyPath, name: &str) {
        if !self.users.contains(&name) {
            out.push(
                key,
                format!(
                    "no user `{name}` in system.users; allowed: {}",
                    list(&self.users)
                ),
            );
        }
    }

    pub fn dataset(&self, out: &mut Findings, key: KeyPath, name: &str) {
        if !self.mounts.contains_key(name) {
            let known: Vec<&str> = self.mounts.keys().map(String::as_str).collect();
            out.push(
                key,
                format!("no dataset `{name}`; allowed: {}", list(&known)),
            );
        }
    }

    pub fn is_dataset_or_pool(&self, name: &str) -> bool {
        self.pools.contains(&name) || self.mounts.contains_key(name)
    }

    pub fn dataset_or_pool(&self, out: &mut Findings, key: KeyPath, name: &str) {
        if !self.pools.contains(&name) {
            self.dataset(out, key, name);
        }
    }

    pub fn path_on_dataset(&self, out: &mut Findings, key: KeyPath, path: &Path) {
        if !text::is_path(path) {
            out.push(key, text::PATH_RULE);
            return;
        }
        if datasets::holding(&self.mounts, path).is_none() {
            let mounted: Vec<String> = self
                .mounts
                .values()
                .filter_map(|m| m.as_ref().map(|m| m.display().to_string()))
                .filter(|m| m != "/")
                .collect();
            let mounted: Vec<&str> = mounted.iter().map(String::as_str).collect();
            out.push(
                key,
                format!(
                    "{} is on no dataset of the profile; allowed: a path below {}",
                    path.display(),
                    list(&mounted)
                ),
            );
        }
    }
}

fn port_collisions(out: &mut Findings, profile: &Profile) {
    let mut owners: BTreeMap<(ports::Proto, u16), String> = BTreeMap::new();
    for port in crate::listening(profile) {
        if port.number == 0 {
            out.push(
                KeyPath::parse(&port.key),
                "0 is not a port; allowed: 1 to 65535",
            );
            continue;
        }
        match owners.get(&(port.proto, port.number)) {
            Some(owner) if *owner != port.owner => out.push(
                KeyPath::parse(&port.key),
                format!(
                    "{} port {} is already used by {owner}",
                    port.proto, port.number
                ),
            ),
            _ => {
                owners.insert((port.proto, port.number), port.owner.clone());
            }
        }
    }
}
