//! Boot environments on the installed system: the system is a dataset
//! under `<root pool>/ROOT/`, every apt run snapshots it first, every
//! kernel or initramfs change reaches every ESP for every environment,
//! and a newly upgraded environment that never reaches multi-user gives
//! way to the previous one. The work is `hearth be`'s; this module only
//! lays down what calls it, and the settings it reads.

use serde::{Deserialize, Serialize};

use crate::check::Context;
use crate::datasets::root_pool;
use crate::keypath::KeyPath;
use crate::profile::Profile;
use crate::{File, Mode, Service};
use hearth_schema::validate::Findings;

/// What `hearth be` reads: the root pool, the kernel's arguments besides
/// `root=`, and how much to keep. JSON, read by Rust only.
pub const CONFIG: &str = "/etc/hearth/boot-environments.json";
/// Property of `<pool>/ROOT` listing every ESP's UUID: shared by all
/// environments, so an old one still knows a disk replaced after it.
pub const ESPS_PROPERTY: &str = "org.hearth:esps";
/// On the kernel command line of a boot that is a trial of a new default.
pub const TRIAL_ARG: &str = "hearth.trial";

const APT_HOOK: &str = "/etc/apt/apt.conf.d/80hearth-snapshot";
const APT_HOOK_TEXT: &str = "// Written by the Hearth installer: every dpkg run (apt upgrades,\n\
// unattended-upgrades, installs) snapshots the running boot environment first.\n\
DPkg::Pre-Invoke { \"/usr/bin/hearth be snapshot --before-apt\"; };\n";
const SYNC_HOOK_TEXT: &str = "#!/bin/sh\n\
# Hearth: a kernel or initramfs change reaches every ESP (hearth be sync).\n\
exec /usr/bin/hearth be sync\n";
const SYNC_HOOKS: [&str; 3] = [
    "/etc/kernel/postinst.d/zz-hearth-esp-sync",
    "/etc/kernel/postrm.d/zz-hearth-esp-sync",
    "/etc/initramfs/post-update.d/zz-hearth-esp-sync",
];
pub const BOOT_OK_UNIT: &str = "hearth-boot-ok.service";
const BOOT_OK_TEXT: &str = "# Written by the Hearth installer.\n\
[Unit]\n\
Description=Hearth: this boot reached multi-user, so its environment is good\n\
After=multi-user.target\n\
Requisite=multi-user.target\n\n\
[Service]\n\
Type=oneshot\n\
RemainAfterExit=yes\n\
ExecStart=/usr/bin/hearth be boot-ok\n\n\
[Install]\n\
WantedBy=multi-user.target\n";
pub const DEADLINE_TIMER: &str = "hearth-boot-deadline.timer";
const DEADLINE_SERVICE_TEXT: &str = "# Written by the Hearth installer.\n\
[Unit]\n\
Description=Hearth: a trial boot short of multi-user restarts into the previous environment\n\
DefaultDependencies=no\n\
IgnoreOnIsolate=yes\n\n\
[Service]\n\
Type=oneshot\n\
ExecStart=/usr/bin/hearth be deadline\n";

/// Settings of `hearth be`, from the profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Config {
    pub pool: String,
    /// Kernel arguments after `root=ZFS=<pool>/ROOT/<env>`.
    pub args: String,
    pub keep: u32,
    pub snapshots: u32,
}

impl Config {
    pub fn of(profile: &Profile) -> Option<Config> {
        let settings = &profile.boot_environments;
        Some(Config {
            pool: root_pool(profile)?.to_string(),
            args: kernel_args(profile),
            keep: settings.keep,
            snapshots: settings.snapshots,
        })
    }

    /// The whole kernel command line booting environment `env`.
    pub fn cmdline(&self, env: &str) -> String {
        cmdline(&self.pool, env, &self.args)
    }
}

/// What the kernel is told to boot: the environment, by the zfs initramfs.
pub fn cmdline(pool: &str, env: &str, args: &str) -> String {
    format!("root=ZFS={pool}/ROOT/{env} {args}")
}

/// The kernel's arguments besides the root: the zfs initramfs, and the
/// network for remote unlock.
pub fn kernel_args(profile: &Profile) -> String {
    match crate::encryption::kernel_args(profile) {
        Some(network) => format!("boot=zfs {network}"),
        None => "boot=zfs".to_string(),
    }
}

fn deadline_timer(minutes: u32) -> String {
    format!(
        "# Written by the Hearth installer from [boot-environments].\n\
[Unit]\n\
Description=Hearth: a trial boot has {minutes} minutes to reach multi-user\n\
DefaultDependencies=no\n\
IgnoreOnIsolate=yes\n\
ConditionKernelCommandLine={TRIAL_ARG}\n\n\
[Timer]\n\
OnBootSec={minutes}min\n\
AccuracySec=5s\n\n\
[Install]\n\
WantedBy=sysinit.target\n"
    )
}

fn executable(path: &str, content: &str) -> File {
    File {
        path: path.into(),
        mode: Mode::new(0o755).unwrap_or(Mode::PUBLIC),
        content: content.to_string(),
    }
}

pub struct BootEnvironments;

impl Service for BootEnvironments {
    fn units(&self, profile: &Profile) -> Vec<String> {
        if root_pool(profile).is_none() {
            return Vec::new();
        }
        vec![BOOT_OK_UNIT.into(), DEADLINE_TIMER.into()]
    }

    fn files(&self, profile: &Profile) -> Vec<File> {
        let Some(config) = Config::of(profile) else {
            return Vec::new();
        };
        let json = serde_json::to_string_pretty(&config).unwrap_or_default() + "\n";
        let minutes = profile.boot_environments.fallback_minutes;
        let mut files = vec![
            File::public(CONFIG, json),
            File::public(APT_HOOK, APT_HOOK_TEXT),
            File::public(format!("/etc/systemd/system/{BOOT_OK_UNIT}"), BOOT_OK_TEXT),
            File::public(
                format!("/etc/systemd/system/{DEADLINE_TIMER}"),
                deadline_timer(minutes),
            ),
            File::public(
                "/etc/systemd/system/hearth-boot-deadline.service",
                DEADLINE_SERVICE_TEXT,
            ),
        ];
        files.extend(SYNC_HOOKS.map(|path| executable(path, SYNC_HOOK_TEXT)));
        files
    }

    fn check(&self, profile: &Profile, _ctx: &Context, out: &mut Findings) {
        let settings = &profile.boot_environments;
        let at = KeyPath::root().key("boot-environments");
        for (key, value, low, high) in [
            ("keep", settings.keep, 1, 20),
            ("snapshots", settings.snapshots, 0, 100),
            ("fallback-minutes", settings.fallback_minutes, 1, 120),
        ] {
            if !(low..=high).contains(&value) {
                out.push(
                    at.key(key),
                    format!("{value} is out of range: must be {low} to {high}"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests;
