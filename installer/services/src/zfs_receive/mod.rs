//! A backup target for other ZFS machines: a system user allowed to
//! `zfs receive` into one dataset, logging in with the senders' keys. The
//! user and the delegation are made at first boot (stored by uid).

pub mod gate;
pub mod provision;

use crate::keypath::KeyPath;
use crate::profile::{Profile, ZfsReceive};
use crate::{Context, FirstBootStep, Service, Task};
use hearth_schema::validate::{checks, Findings};

pub struct ZfsReceiveTarget;

fn zfs_receive(profile: &Profile) -> Option<&ZfsReceive> {
    profile
        .services
        .backup_target
        .as_ref()?
        .zfs_receive
        .as_ref()
}

impl Service for ZfsReceiveTarget {
    fn first_boot(&self, profile: &Profile) -> Vec<FirstBootStep> {
        let Some(receive) = zfs_receive(profile) else {
            return Vec::new();
        };
        vec![FirstBootStep::new(
            "zfs-receive",
            format!(
                "create user {} and zfs allow it receive,create,mount on {}",
                receive.user, receive.dataset
            ),
            Task::ZfsReceive {
                user: receive.user.clone(),
                dataset: receive.dataset.clone(),
                ssh_keys: receive.ssh_keys.clone(),
            },
        )]
    }

    fn check(&self, profile: &Profile, ctx: &Context, out: &mut Findings) {
        let Some(receive) = zfs_receive(profile) else {
            return;
        };
        let at = KeyPath::root()
            .key("services")
            .key("backup-target")
            .key("zfs-receive");
        ctx.dataset(out, at.key("dataset"), &receive.dataset);
        if !checks::is_username(&receive.user) || ctx.users.contains(&receive.user.as_str()) {
            out.push(
                at.key("user"),
                "must be a valid user name not used by system.users",
            );
        } else if crate::users::is_system_user(&receive.user) {
            out.push(
                at.key("user"),
                format!("`{}` {}", receive.user, crate::users::SYSTEM_USER_RULE),
            );
        }
        checks::ssh_keys(out, at.key("ssh-keys"), &receive.ssh_keys);
    }
}
