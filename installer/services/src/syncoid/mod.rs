//! Replication with syncoid: one oneshot unit on a timer per job, sending
//! the source dataset to a pool on this host or over ssh to another host
//! (a backup-target Hearth's zfs-receive user, for example).

pub mod provision;

use crate::profile::Replication;

use crate::keypath::KeyPath;
use crate::profile::Profile;
use crate::Kept;
use crate::{Context, File, FirstBootStep, Service, Task};
use hearth_schema::validate::{calendar, checks, text, Findings};

/// The key syncoid logs in with to remote targets, made at first boot; its
/// public half goes into the other host's zfs-receive-ssh-keys.
pub const SSH_KEY: &str = "/etc/hearth/syncoid/id_ed25519";

pub fn service_path(index: usize) -> String {
    format!("/etc/systemd/system/hearth-syncoid-{index}.service")
}

pub fn timer_path(index: usize) -> String {
    format!("/etc/systemd/system/hearth-syncoid-{index}.timer")
}

/// `user@host:pool/dataset` targets go over ssh; anything else is local.
pub fn is_remote(target: &str) -> bool {
    target.contains(':')
}

pub fn service(job: &Replication) -> String {
    let mut args = Vec::new();
    if job.recursive {
        args.push("--recursive".to_string());
    }
    if is_remote(&job.target) {
        // The receiving user has `zfs allow` on its dataset, not root.
        args.push(format!("--sshkey={SSH_KEY}"));
        args.push("--no-privilege-elevation".into());
    }
    args.push(crate::unit::arg(&job.source));
    args.push(crate::unit::arg(&job.target));
    format!(
        "# Written by the Hearth installer from [[services.replication]].\n\
         [Unit]\n\
         Description=syncoid {source} to {target} (Hearth)\n\
         Wants=network-online.target\n\
         After=network-online.target zfs-mount.service hearth-firstboot.service\n\n\
         [Service]\n\
         Type=oneshot\n\
         ExecStart=/usr/sbin/syncoid {args}\n\
         Nice=10\n\
         IOSchedulingClass=idle\n",
        source = job.source,
        target = job.target,
        args = args.join(" "),
    )
}

pub fn timer(job: &Replication) -> String {
    crate::timer::timer_unit(
        "[[services.replication]]",
        &format!("syncoid {} to {}", job.source, job.target),
        &job.schedule,
        "15min",
    )
}

/// syncoid replication jobs, one unit and timer each (sanoid's package).
pub struct Syncoid;

/// A job to another host needs syncoid's own SSH key.
fn has_remote(profile: &Profile) -> bool {
    let jobs = &profile.services.replication;
    jobs.iter().any(|j| is_remote(&j.target))
}

impl Service for Syncoid {
    fn kept(&self, profile: &Profile) -> Vec<Kept> {
        if !has_remote(profile) {
            return Vec::new();
        }
        [SSH_KEY.to_string(), format!("{SSH_KEY}.pub")]
            .into_iter()
            .map(|p| Kept::new(p, "replication SSH key"))
            .collect()
    }

    fn units(&self, profile: &Profile) -> Vec<String> {
        let jobs = 0..profile.services.replication.len();
        jobs.map(|i| format!("hearth-syncoid-{i}.timer")).collect()
    }

    fn files(&self, profile: &Profile) -> Vec<File> {
        let jobs = profile.services.replication.iter().enumerate();
        jobs.flat_map(|(i, job)| {
            [
                File::public(service_path(i), service(job)),
                File::public(timer_path(i), timer(job)),
            ]
        })
        .collect()
    }

    fn first_boot(&self, profile: &Profile) -> Vec<FirstBootStep> {
        if !has_remote(profile) {
            return Vec::new();
        }
        vec![FirstBootStep::new(
            "syncoid",
            format!("generate the key syncoid logs in with ({SSH_KEY}.pub goes to the other host)"),
            Task::SshKey {
                path: SSH_KEY.into(),
            },
        )]
    }

    fn check(&self, profile: &Profile, ctx: &Context, out: &mut Findings) {
        for (i, job) in profile.services.replication.iter().enumerate() {
            let at = KeyPath::root().key("services").key("replication").index(i);
            ctx.dataset_or_pool(out, at.key("source"), &job.source);
            replication_target(out, ctx, at.key("target"), &job.target);
            if !calendar::is_calendar(&job.schedule) {
                out.push(at.key("schedule"), calendar::RULE);
            }
        }
    }
}

/// A local target is received into a new dataset under one the profile
/// makes; a remote one is `user@host:pool/dataset`.
fn replication_target(out: &mut Findings, ctx: &Context, key: KeyPath, target: &str) {
    if let Some((login, dataset)) = target.split_once(':') {
        // syncoid splits at the first colon: a host is a name or IPv4.
        let ok = login.split_once('@').is_some_and(|(user, host)| {
            checks::is_username(user)
                && (text::is_domain(host) || host.parse::<std::net::Ipv4Addr>().is_ok())
        }) && text::is_dataset(dataset);
        if !ok {
            out.push(
                key,
                format!("`{}`: a remote target is user@host:pool/dataset, with a user name, a DNS name or IPv4 address, and {}", target.escape_debug(), text::DATASET_RULE.trim_start_matches("must be ")),
            );
        }
        return;
    }
    if !text::is_dataset(target) {
        out.push(
            key,
            format!("`{}`: {}", target.escape_debug(), text::DATASET_RULE),
        );
        return;
    }
    if ctx.is_dataset_or_pool(target) {
        out.push(
            key,
            format!("`{target}` is made by the profile; syncoid receives into a new dataset, e.g. `{target}/copy`"),
        );
        return;
    }
    match target.rsplit_once('/') {
        Some((parent, _)) if ctx.is_dataset_or_pool(parent) => {}
        _ => out.push(
            key,
            format!("`{target}`: its parent must be a pool or dataset of the profile"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(target: &str) -> Replication {
        Replication {
            source: "rpool/home".into(),
            target: target.into(),
            schedule: "daily".into(),
            recursive: true,
        }
    }

    #[test]
    fn a_local_target_needs_no_key() {
        let unit = service(&job("tank/backups/home"));
        assert!(
            unit.contains("ExecStart=/usr/sbin/syncoid --recursive rpool/home tank/backups/home\n")
        );
    }

    #[test]
    fn a_remote_target_logs_in_with_the_hosts_key_as_the_receiving_user() {
        let unit = service(&job("zfsrecv@backup.home.arpa:tank/backups/zfs/hearth"));
        assert!(unit.contains(&format!(
            "--sshkey={SSH_KEY} --no-privilege-elevation rpool/home zfsrecv@backup.home.arpa:tank/backups/zfs/hearth"
        )));
    }

    #[test]
    fn the_timer_runs_on_the_jobs_schedule() {
        assert!(timer(&job("tank/x")).contains("OnCalendar=daily\n"));
    }
}
