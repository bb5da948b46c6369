//! Replication with syncoid: one oneshot unit on a timer per job, sending
//! the source dataset to a pool on this host or over ssh to another host
//! (a backup-target Hearth's zfs-receive user, for example).

use crate::profile::Replication;

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
    args.push(job.source.clone());
    args.push(job.target.clone());
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
    super::timer_unit(
        "[[services.replication]]",
        &format!("syncoid {} to {}", job.source, job.target),
        &job.schedule,
        "15min",
    )
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
