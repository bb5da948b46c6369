//! /etc/sanoid/sanoid.conf from the profile's snapshot policies: one
//! template per policy, each dataset using its policy's template. The
//! packaged sanoid.timer takes the snapshots and prunes them.

use std::fmt::Write;

use crate::profile::Snapshots;

use crate::keypath::KeyPath;
use crate::profile::Profile;
use crate::{Context, File, Service};
use hearth_schema::validate::Findings;

pub const PATH: &str = "/etc/sanoid/sanoid.conf";

pub fn sanoid_conf(snapshots: &Snapshots) -> String {
    let mut out = String::from(
        "# Written by the Hearth installer from [services.snapshots].\n\
         # sanoid.timer runs `sanoid --cron`: snapshots are named autosnap_<date>_<period>,\n\
         # which Samba's Previous Versions reads.\n",
    );
    for (i, policy) in snapshots.policies.iter().enumerate() {
        for dataset in &policy.datasets {
            let _ = write!(
                out,
                "\n[{dataset}]\n\tuse_template = hearth_{i}\n\trecursive = {}\n",
                if policy.recursive { "yes" } else { "no" }
            );
        }
    }
    for (i, policy) in snapshots.policies.iter().enumerate() {
        let _ = write!(
            out,
            "\n[template_hearth_{i}]\n\tfrequently = {}\n\thourly = {}\n\tdaily = {}\n\tweekly = {}\n\tmonthly = {}\n\tyearly = {}\n\tautosnap = yes\n\tautoprune = yes\n",
            policy.frequently, policy.hourly, policy.daily, policy.weekly, policy.monthly, policy.yearly
        );
    }
    out
}

/// sanoid's snapshots per dataset, taken and pruned by sanoid.timer.
pub struct Sanoid;

impl Service for Sanoid {
    fn packages(&self, profile: &Profile) -> Vec<&'static str> {
        // syncoid comes in the same package, with what it pipes through.
        let s = &profile.services;
        if s.snapshots.is_some() || !s.replication.is_empty() {
            vec!["sanoid", "mbuffer", "lzop", "pv"]
        } else {
            Vec::new()
        }
    }

    fn units(&self, profile: &Profile) -> Vec<String> {
        match profile.services.snapshots {
            Some(_) => vec!["sanoid.timer".into()],
            None => Vec::new(),
        }
    }

    fn files(&self, profile: &Profile) -> Vec<File> {
        let Some(snapshots) = &profile.services.snapshots else {
            return Vec::new();
        };
        vec![File::public(PATH, sanoid_conf(snapshots))]
    }

    fn check(&self, profile: &Profile, ctx: &Context, out: &mut Findings) {
        let Some(snapshots) = &profile.services.snapshots else {
            return;
        };
        let at = KeyPath::root()
            .key("services")
            .key("snapshots")
            .key("policies");
        for (i, policy) in snapshots.policies.iter().enumerate() {
            for (j, dataset) in policy.datasets.iter().enumerate() {
                ctx.dataset_or_pool(out, at.index(i).key("datasets").index(j), dataset);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::SnapshotPolicy;

    #[test]
    fn each_dataset_uses_its_policys_template() {
        let policy = |datasets: &[&str], hourly| SnapshotPolicy {
            datasets: datasets.iter().map(|d| d.to_string()).collect(),
            recursive: true,
            frequently: 0,
            hourly,
            daily: 7,
            weekly: 0,
            monthly: 0,
            yearly: 0,
        };
        let conf = sanoid_conf(&Snapshots {
            policies: vec![
                policy(&["tank/a", "tank/b"], 24),
                policy(&["rpool/home"], 0),
            ],
        });
        assert!(conf.contains("[tank/b]\n\tuse_template = hearth_0\n\trecursive = yes\n"));
        assert!(conf.contains("[rpool/home]\n\tuse_template = hearth_1\n"));
        assert!(conf.contains("[template_hearth_0]\n\tfrequently = 0\n\thourly = 24\n"));
        assert!(conf.contains("[template_hearth_1]\n\tfrequently = 0\n\thourly = 0\n"));
    }
}
