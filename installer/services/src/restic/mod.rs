//! Cloud backup with restic: a oneshot unit on a timer backs up the
//! profile's paths to its repository (made on first use) and prunes by the
//! retention; `hearth restore-test` proves a file comes back.

use crate::profile::CloudBackup;

use crate::keypath::KeyPath;
use crate::profile::Profile;
use crate::Kept;
use crate::{Context, File, FirstBootStep, Service, Task};
use hearth_schema::validate::{calendar, text, Findings};

pub const ENV: &str = "/etc/hearth/restic.env";
pub const PASSWORD: &str = "/etc/hearth/restic.password";
pub const SERVICE: &str = "/etc/systemd/system/hearth-restic-backup.service";
pub const TIMER: &str = "/etc/systemd/system/hearth-restic-backup.timer";
pub const CACHE: &str = "/var/cache/restic";

/// The repository and the password file; the admin adds the repository's
/// credentials here. No secret is in it at install time.
pub fn env(backup: &CloudBackup) -> String {
    format!(
        "# Written by the Hearth installer from [services.cloud-backup].\n\
         # Add the repository's credentials below, for example\n\
         # AWS_ACCESS_KEY_ID= and AWS_SECRET_ACCESS_KEY= (s3:), B2_ACCOUNT_ID= and\n\
         # B2_ACCOUNT_KEY= (b2:), RESTIC_REST_USERNAME= and RESTIC_REST_PASSWORD= (rest:).\n\
         # The repository password was made at first boot; keep a copy elsewhere.\n\
         RESTIC_REPOSITORY={}\n\
         RESTIC_PASSWORD_FILE={PASSWORD}\n\
         RESTIC_CACHE_DIR={CACHE}\n",
        backup.repository
    )
}

/// `restic forget` arguments for the retention.
pub fn retention(backup: &CloudBackup) -> String {
    format!(
        "--keep-daily {} --keep-weekly {} --keep-monthly {}",
        backup.keep_daily, backup.keep_weekly, backup.keep_monthly
    )
}

pub fn service(backup: &CloudBackup) -> String {
    let paths: Vec<String> = backup
        .paths
        .iter()
        .map(|p| crate::unit::arg(&p.display().to_string()))
        .collect();
    format!(
        "# Written by the Hearth installer from [services.cloud-backup].\n\
         [Unit]\n\
         Description=restic backup of {paths} (Hearth)\n\
         Wants=network-online.target\n\
         After=network-online.target zfs-mount.service hearth-firstboot.service\n\n\
         [Service]\n\
         Type=oneshot\n\
         EnvironmentFile={ENV}\n\
         # The repository is made on first use.\n\
         ExecStartPre=/bin/sh -c 'restic cat config >/dev/null 2>&1 || restic init'\n\
         ExecStart=/usr/bin/restic backup --tag hearth --exclude-caches {paths}\n\
         ExecStartPost=/usr/bin/restic forget --tag hearth --prune {retention}\n\
         Nice=10\n\
         IOSchedulingClass=idle\n",
        paths = paths.join(" "),
        retention = retention(backup),
    )
}

pub fn timer(backup: &CloudBackup) -> String {
    crate::timer::timer_unit(
        "[services.cloud-backup]",
        "restic backup",
        &backup.schedule,
        "30min",
    )
}

/// Cloud backup with restic on a timer; the repository password is made at
/// first boot, the credentials are the admin's to add to restic.env.
pub struct Restic;

impl Service for Restic {
    fn kept(&self, profile: &Profile) -> Vec<Kept> {
        match profile.services.cloud_backup {
            Some(_) => vec![
                Kept::new(PASSWORD, "cloud backup repository password"),
                Kept::new(ENV, "cloud backup repository and credentials"),
            ],
            None => Vec::new(),
        }
    }

    fn packages(&self, profile: &Profile) -> Vec<&'static str> {
        match profile.services.cloud_backup {
            Some(_) => vec!["restic"],
            None => Vec::new(),
        }
    }

    fn units(&self, profile: &Profile) -> Vec<String> {
        match profile.services.cloud_backup {
            Some(_) => vec!["hearth-restic-backup.timer".into()],
            None => Vec::new(),
        }
    }

    fn files(&self, profile: &Profile) -> Vec<File> {
        let Some(backup) = &profile.services.cloud_backup else {
            return Vec::new();
        };
        vec![
            File::private(ENV, env(backup)),
            File::public(SERVICE, service(backup)),
            File::public(TIMER, timer(backup)),
        ]
    }

    fn first_boot(&self, profile: &Profile) -> Vec<FirstBootStep> {
        if profile.services.cloud_backup.is_none() {
            return Vec::new();
        }
        vec![FirstBootStep::new(
            "restic",
            "generate the repository password (root only)",
            Task::SecretFile {
                path: PASSWORD.into(),
            },
        )]
    }

    fn check(&self, profile: &Profile, _ctx: &Context, out: &mut Findings) {
        let Some(backup) = &profile.services.cloud_backup else {
            return;
        };
        let at = KeyPath::root().key("services").key("cloud-backup");
        if !text::is_repository(&backup.repository) {
            out.push(at.key("repository"), text::REPOSITORY_RULE);
        }
        if backup.paths.is_empty() {
            out.push(at.key("paths"), "name at least one path to back up");
        }
        for (i, path) in backup.paths.iter().enumerate() {
            if !text::is_path(path) {
                out.push(at.key("paths").index(i), text::PATH_RULE);
            }
        }
        if !calendar::is_calendar(&backup.schedule) {
            out.push(at.key("schedule"), calendar::RULE);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backs_up_the_paths_and_keeps_what_the_profile_says() {
        let backup = CloudBackup {
            repository: "b2:bucket:hearth".into(),
            paths: vec!["/tank/shares/family".into(), "/tank/sync".into()],
            schedule: "daily".into(),
            keep_daily: 7,
            keep_weekly: 4,
            keep_monthly: 12,
        };
        let unit = service(&backup);
        assert!(unit.contains("ExecStart=/usr/bin/restic backup --tag hearth --exclude-caches /tank/shares/family /tank/sync\n"));
        assert!(unit.contains(
            "forget --tag hearth --prune --keep-daily 7 --keep-weekly 4 --keep-monthly 12\n"
        ));
        assert!(env(&backup).contains("RESTIC_REPOSITORY=b2:bucket:hearth\nRESTIC_PASSWORD_FILE=/etc/hearth/restic.password\n"));
        assert!(timer(&backup).contains("OnCalendar=daily\nPersistent=true\n"));
    }
}
