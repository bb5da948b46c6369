//! The `zpool` and `zfs` command lines of a plan, made from its typed pools
//! and datasets by one function each, for the preview and the executor alike.

use serde::{Deserialize, Serialize};

use super::{DatasetPlan, PoolAction, PoolPlan, ALTROOT};

/// What a vdev is for in its pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VdevClass {
    Data,
    Special,
    Log,
    Cache,
    Spare,
}

impl VdevClass {
    pub fn name(self) -> &'static str {
        match self {
            VdevClass::Data => "data",
            VdevClass::Special => "special",
            VdevClass::Log => "log",
            VdevClass::Cache => "cache",
            VdevClass::Spare => "spare",
        }
    }
}

impl PoolPlan {
    /// `zpool create` for a new pool, `zpool import` for a kept one.
    pub fn argv(&self) -> Vec<String> {
        match self.action {
            // -f: after the boot disks died the pool was never exported, and
            // it carries the old system's hostid. The answer's `keep` vouches for it.
            PoolAction::Import => {
                words(&["zpool", "import", "-f", "-N", "-R", ALTROOT, &self.name])
            }
            PoolAction::Create => self.create_argv(),
        }
    }

    fn create_argv(&self) -> Vec<String> {
        let mut argv = words(&["zpool", "create", "-f"]);
        options(&mut argv, "-o", &self.properties);
        options(&mut argv, "-O", &self.dataset_properties);
        argv.extend(words(&["-R", ALTROOT, &self.name]));
        let mut class = VdevClass::Data;
        for vdev in &self.vdevs {
            if vdev.class != class {
                argv.push(vdev.class.name().into());
                class = vdev.class;
            }
            argv.extend(vdev.topology.keyword().map(String::from));
            argv.extend(vdev.members.iter().map(|m| m.display().to_string()));
        }
        argv
    }
}

impl DatasetPlan {
    pub fn argv(&self) -> Vec<String> {
        // Not mounted yet: `zfs mount -a` mounts them all at the end, in
        // mountpoint order, whatever order they were made in.
        let mut argv = words(&["zfs", "create", "-u"]);
        options(&mut argv, "-o", &self.properties);
        argv.push(self.name.clone());
        argv
    }
}

fn options<'a>(
    argv: &mut Vec<String>,
    flag: &str,
    pairs: impl IntoIterator<Item = (&'a String, &'a String)>,
) {
    for (key, value) in pairs {
        argv.extend([flag.to_string(), format!("{key}={value}")]);
    }
}

fn words(list: &[&str]) -> Vec<String> {
    list.iter().map(|w| w.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use super::*;
    use crate::plan::VdevPlan;
    use crate::profile::{PoolRole, Topology};

    fn vdev(class: VdevClass, topology: Topology, members: &[&str]) -> VdevPlan {
        VdevPlan {
            class,
            topology,
            members: members.iter().map(PathBuf::from).collect(),
        }
    }

    #[test]
    fn each_class_word_comes_once_before_its_vdevs() {
        let pool = PoolPlan {
            name: "tank".into(),
            role: PoolRole::Data,
            action: PoolAction::Create,
            properties: BTreeMap::from([("ashift".into(), "12".into())]),
            dataset_properties: BTreeMap::from([("compression".into(), "zstd".into())]),
            vdevs: vec![
                vdev(VdevClass::Data, Topology::Mirror, &["a", "b"]),
                vdev(VdevClass::Data, Topology::Mirror, &["c", "d"]),
                vdev(VdevClass::Log, Topology::Mirror, &["e", "f"]),
                vdev(VdevClass::Cache, Topology::Stripe, &["g"]),
                vdev(VdevClass::Spare, Topology::Stripe, &["h"]),
            ],
            encryption: None,
        };
        assert_eq!(
            pool.argv().join(" "),
            "zpool create -f -o ashift=12 -O compression=zstd -R /mnt/hearth tank \
             mirror a b mirror c d log mirror e f cache g spare h"
        );
        let kept = PoolPlan {
            action: PoolAction::Import,
            vdevs: Vec::new(),
            ..pool
        };
        assert_eq!(
            kept.argv().join(" "),
            "zpool import -f -N -R /mnt/hearth tank"
        );
    }
}
