//! A pool's layout as ZFS reports it (`zpool status -j -P`, OpenZFS 2.3)
//! against the plan's (`/etc/hearth/plan.json` on the installed system),
//! vdev by vdev: class, kind and members.

use anyhow::{Context, Result};
use serde_json::Value;

/// One top-level vdev: class (normal, special, log, l2cache, spare), kind
/// (disk, mirror, raidz1, ...) and its members' paths, sorted.
pub type Vdev = (String, String, Vec<String>);

/// The plan's vdevs of `pool`; a stripe is one vdev per member.
pub fn planned(plan: &str, pool: &str) -> Result<Vec<Vdev>> {
    let plan: Value = serde_json::from_str(plan).context("the plan's JSON")?;
    let pools = plan["pools"].as_array().context("the plan has no pools")?;
    let found = pools
        .iter()
        .find(|p| p["name"] == pool)
        .with_context(|| format!("the plan has no pool {pool}"))?;
    let mut out = Vec::new();
    for vdev in found["vdevs"].as_array().into_iter().flatten() {
        let class = class_name(vdev["class"].as_str().unwrap_or("data"));
        let members: Vec<String> = vdev["members"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m.as_str().map(String::from))
            .collect();
        match vdev["topology"].as_str().unwrap_or("stripe") {
            "stripe" => out.extend(
                members
                    .into_iter()
                    .map(|m| (class.clone(), "disk".into(), vec![m])),
            ),
            kind => out.push((class.clone(), kind.to_string(), sorted(members))),
        }
    }
    out.sort();
    Ok(out)
}

fn class_name(plan_class: &str) -> String {
    match plan_class {
        "data" => "normal",
        "cache" => "l2cache",
        other => other,
    }
    .into()
}

/// What `zpool status -j -P` says of `pool`: the root vdev's children, and
/// the vdevs of the pool's other maps (spares, l2cache, logs, ...).
pub fn actual(json: &str, pool: &str) -> Result<Vec<Vdev>> {
    let status: Value = serde_json::from_str(json).context("the JSON of `zpool status -j`")?;
    let found = &status["pools"][pool];
    anyhow::ensure!(
        found.is_object(),
        "`zpool status -j` does not list pool {pool}"
    );
    let mut out = Vec::new();
    for root in found["vdevs"]
        .as_object()
        .into_iter()
        .flat_map(|m| m.values())
    {
        for vdev in children(root) {
            out.push(top_level(vdev, "normal"));
        }
    }
    for (key, class) in [
        ("spares", "spare"),
        ("l2cache", "l2cache"),
        ("logs", "log"),
        ("special", "special"),
    ] {
        for vdev in found[key].as_object().into_iter().flat_map(|m| m.values()) {
            out.push(top_level(vdev, class));
        }
    }
    out.sort();
    Ok(out)
}

fn children(vdev: &Value) -> impl Iterator<Item = &Value> {
    vdev["vdevs"]
        .as_object()
        .into_iter()
        .flat_map(|m| m.values())
}

fn top_level(vdev: &Value, default_class: &str) -> Vdev {
    let class = vdev["class"].as_str().unwrap_or(default_class);
    let class = match class {
        "spares" | "spare" => "spare",
        "logs" => "log",
        other => other,
    };
    if vdev["vdev_type"] == "disk" {
        return (class.into(), "disk".into(), vec![path(vdev)]);
    }
    let name = vdev["name"].as_str().unwrap_or_default();
    let kind = name.rsplit_once('-').map_or(name, |(kind, _)| kind);
    let members = sorted(children(vdev).map(path).collect());
    (class.into(), kind.into(), members)
}

fn path(vdev: &Value) -> String {
    vdev["path"]
        .as_str()
        .or(vdev["name"].as_str())
        .unwrap_or_default()
        .to_string()
}

fn sorted(mut items: Vec<String>) -> Vec<String> {
    items.sort();
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mirror_and_a_log_and_a_spare_are_read_from_both_sides() {
        let plan = r#"{"pools": [{"name": "tank", "vdevs": [
            {"class": "data", "topology": "mirror", "members": ["/d/b-part1", "/d/a-part1"]},
            {"class": "log", "topology": "stripe", "members": ["/d/c-part1"]},
            {"class": "spare", "topology": "stripe", "members": ["/d/e-part1"]}]}]}"#;
        let status = r#"{"pools": {"tank": {"name": "tank",
            "vdevs": {"tank": {"name": "tank", "vdev_type": "root", "class": "normal", "vdevs": {
                "mirror-0": {"name": "mirror-0", "vdev_type": "mirror", "class": "normal", "vdevs": {
                    "/d/a-part1": {"name": "/d/a-part1", "vdev_type": "disk", "path": "/d/a-part1"},
                    "/d/b-part1": {"name": "/d/b-part1", "vdev_type": "disk", "path": "/d/b-part1"}}},
                "/d/c-part1": {"name": "/d/c-part1", "vdev_type": "disk", "class": "log", "path": "/d/c-part1"}}}},
            "spares": {"/d/e-part1": {"name": "/d/e-part1", "vdev_type": "disk", "path": "/d/e-part1"}}}}}"#;
        let want = planned(plan, "tank").expect("plan");
        assert_eq!(want.len(), 3);
        assert_eq!(actual(status, "tank").expect("status"), want);
    }
}
