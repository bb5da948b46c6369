//! The vdev tree of `zpool status -j -P <pool>` (OpenZFS 2.3's JSON), each
//! vdev with its depth, so a member's mirror partners can be found, and
//! whether a resilver is running.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub depth: usize,
    pub name: String,
    pub state: String,
    pub guid: String,
    /// The path a device that has gone was at.
    pub was: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Status {
    #[serde(default)]
    pools: BTreeMap<String, Pool>,
}

#[derive(Debug, Deserialize)]
struct Pool {
    #[serde(default)]
    vdevs: BTreeMap<String, Vdev>,
    #[serde(default)]
    scan_stats: Option<Scan>,
}

#[derive(Debug, Deserialize)]
struct Vdev {
    name: String,
    #[serde(default)]
    state: String,
    /// A string, or a number with --json-int.
    #[serde(default)]
    guid: Option<Value>,
    #[serde(default)]
    was: Option<String>,
    #[serde(default)]
    vdevs: BTreeMap<String, Vdev>,
}

/// The pool's scan: what runs (SCRUB, RESILVER) and how far it is.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Scan {
    #[serde(default)]
    pub function: String,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub examined: Option<Value>,
    #[serde(default)]
    pub to_examine: Option<Value>,
    #[serde(default)]
    pub errors: Option<Value>,
}

impl Scan {
    pub fn resilvering(&self) -> bool {
        self.function == "RESILVER" && self.state == "SCANNING"
    }

    /// One line for a person: "RESILVER SCANNING, 1.2G of 1.5G examined".
    pub fn line(&self) -> String {
        format!(
            "{} {}, {} of {} examined",
            self.function,
            self.state,
            shown(&self.examined),
            shown(&self.to_examine)
        )
    }

    /// What a finished scan says: "resilvered 1.5G, 0 errors".
    pub fn outcome(&self) -> String {
        match (self.function.as_str(), self.state.as_str()) {
            ("RESILVER", "FINISHED") => format!(
                "resilvered {}, {} errors",
                shown(&self.examined),
                shown(&self.errors)
            ),
            _ => format!("no resilver running ({})", self.line()),
        }
    }
}

fn shown(value: &Option<Value>) -> String {
    value.as_ref().map_or_else(|| "?".into(), text)
}

/// A field that is a string, or a number with --json-int.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The status of one pool, from the JSON of `zpool status -j`.
fn pool(json: &str, name: &str) -> Result<Pool> {
    let mut status: Status =
        serde_json::from_str(json).context("reading the JSON of `zpool status -j`")?;
    status
        .pools
        .remove(name)
        .with_context(|| format!("`zpool status -j` does not list pool {name}"))
}

/// Every vdev of the pool's data tree, depth first, the root at depth 0.
pub fn members(json: &str, pool_name: &str) -> Result<Vec<Member>> {
    let mut out = Vec::new();
    for vdev in pool(json, pool_name)?.vdevs.values() {
        flatten(vdev, 0, &mut out);
    }
    Ok(out)
}

/// The pool's scan, if one ever ran.
pub fn scan(json: &str, pool_name: &str) -> Result<Scan> {
    Ok(pool(json, pool_name)?.scan_stats.unwrap_or_default())
}

fn flatten(vdev: &Vdev, depth: usize, out: &mut Vec<Member>) {
    let guid = vdev.guid.as_ref().map(text).unwrap_or_default();
    out.push(Member {
        depth,
        name: vdev.name.clone(),
        state: vdev.state.clone(),
        guid,
        was: vdev.was.clone(),
    });
    for child in vdev.vdevs.values() {
        flatten(child, depth + 1, out);
    }
}

/// The member `old` names (its path, its guid, or the path it was at), and
/// the other leaves of the same vdev.
pub fn find<'a>(members: &'a [Member], old: &str) -> Option<(&'a Member, Vec<&'a Member>)> {
    let suffix = format!("/{old}");
    let index = members.iter().position(|m| {
        let was = m.was.as_deref().unwrap_or_default();
        m.name == old
            || m.guid == old
            || was == old
            || m.name.ends_with(&suffix)
            || was.ends_with(&suffix)
    })?;
    let member = &members[index];
    let parent = members[..index]
        .iter()
        .rposition(|m| m.depth < member.depth)?;
    let siblings = members[parent + 1..]
        .iter()
        .take_while(|m| m.depth > members[parent].depth)
        .filter(|m| m.depth == member.depth && m.name != member.name)
        .collect();
    Some((member, siblings))
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// A mirror whose first disk is gone, in the shape OpenZFS 2.3.9's
    /// `zpool status -j -P` writes (its zpool_main.c: pools, vdevs by name,
    /// a missing leaf named by its guid with `was`); the bios-mirror QEMU
    /// scenario reads the real thing.
    pub const DEGRADED: &str = include_str!("../../tests/fixtures/zfs/status-degraded.json");

    #[test]
    fn a_missing_member_is_found_by_what_it_was_and_its_partner_by_the_tree() {
        let tree = members(DEGRADED, "rpool").expect("json");
        assert_eq!(tree.len(), 4);
        for old in [
            "4483212296402916617",
            "/dev/disk/by-id/virtio-hearth-disk-1-part3",
            "virtio-hearth-disk-1-part3",
        ] {
            let (member, partners) = find(&tree, old).expect(old);
            assert_eq!(member.state, "UNAVAIL");
            assert_eq!(partners.len(), 1);
            assert_eq!(
                partners[0].name,
                "/dev/disk/by-id/virtio-hearth-disk-2-part3"
            );
            assert_eq!(partners[0].state, "ONLINE");
        }
        assert!(find(&tree, "virtio-other").is_none());
    }

    #[test]
    fn the_scan_says_whether_a_resilver_runs() {
        let scan = scan(DEGRADED, "rpool").expect("json");
        assert!(scan.resilvering());
        assert_eq!(scan.line(), "RESILVER SCANNING, 1.20G of 1.50G examined");
        let done = Scan {
            state: "FINISHED".into(),
            errors: Some(Value::String("0".into())),
            ..scan
        };
        assert!(!done.resilvering());
        assert_eq!(done.outcome(), "resilvered 1.20G, 0 errors");
        assert!(
            members(DEGRADED, "tank").is_err(),
            "another pool is not there"
        );
    }
}
