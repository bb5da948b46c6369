//! The answer file: what one machine adds to a profile.

use std::collections::BTreeMap;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::profile::{Alerts, KeyBytes, Network, Topology, Updates};

/// Per-machine values. Everything is optional; what the profile leaves as
/// "ask" and the answer does not give is asked interactively (or, unattended,
/// is an error).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Answer {
    /// Shipped profile name or path; default: the one the ISO was built with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keymap: Option<String>,
    /// Crypt hash of root's password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_password: Option<String>,
    /// Added to the profile's root keys.
    #[serde(default)]
    pub root_ssh_keys: Vec<String>,
    /// Per user of the profile: password hash and extra keys.
    #[serde(default)]
    pub users: BTreeMap<String, UserAnswer>,
    /// Replaces the profile's network section whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<Network>,
    /// Per disk (a /dev path, a /dev/disk/by-id name, or a serial number).
    #[serde(default)]
    pub disks: BTreeMap<String, DiskAnswer>,
    /// Per pool name: keep an existing pool, or pin the disks of a new one.
    #[serde(default)]
    pub pools: BTreeMap<String, PoolAnswer>,
    /// Added to the keys of the profile's zfs-receive user: the machines
    /// that send their snapshots here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub zfs_receive_ssh_keys: Vec<String>,
    /// Restic repository for cloud backup, if the profile leaves it to the machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_backup_repository: Option<String>,
    /// Bring a lost server back onto blank disks: its recovery kit (`hearth
    /// recovery-kit`), a file name beside this answer (on the ISO or the
    /// HEARTH partition) or an https:// or http:// URL. Its keys, secrets
    /// and device IDs come back, then the cloud backup's files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_kit: Option<String>,
    /// The kit's SHA-256 (64 hex digits); needed for an http:// URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_kit_sha256: Option<String>,
    /// The kit's passphrase; never logged, planned or written to the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_kit_passphrase: Option<String>,
    /// Replaces the profile's [alerts] whole: this machine's receivers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerts: Option<Alerts>,
    /// Password at the alerts' SMTP relay (with `[alerts.email] user`);
    /// written only to the root-only /etc/msmtprc, never logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_password: Option<String>,
    /// Token of the alerts' webhook (ntfy access token, Gotify app token);
    /// root-only on the server, never logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_token: Option<String>,
    /// The one-time password that enrolls this machine's module-signing
    /// key (DKMS's) in shim's MokManager at the first boot, as a SHA-512
    /// crypt hash (`mokutil --generate-hash` or `mkpasswd -m sha-512`).
    /// Without it the key is made but not enrolled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mok_password_hash: Option<String>,
    /// Replaces the profile's [updates] whole: this site's mirrors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updates: Option<Updates>,
    /// Replaces the profile's NTP servers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ntp: Option<Vec<String>>,
    /// What to do when the install has finished.
    #[serde(default)]
    pub after_install: AfterInstall,
    /// Where the installer POSTs a JSON report when the install ends, done
    /// or failed (the answer server's /report, or any webhook).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<ReportTo>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ReportTo {
    /// An http:// or https:// URL.
    pub url: String,
    /// Sent as `Authorization: Bearer <token>`; never in the report or a log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The SHA-256 fingerprint of the receiver's certificate, for a
    /// self-signed one (the answer server prints it); without it, https is
    /// checked against the system's CA store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct UserAnswer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(default)]
    pub ssh_keys: Vec<String>,
    /// The Samba password as its NT hash (32 hex digits), which is all Samba
    /// stores; `hearth hash-password` prints it. Without it the user has
    /// no Samba password until `smbpasswd -a` is run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samba_nt_hash: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct DiskAnswer {
    /// Erase this disk even though it holds partitions, filesystems or a pool.
    #[serde(default)]
    pub wipe: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct PoolAnswer {
    /// Import this existing pool untouched instead of creating it
    /// (reprovisioning). Its disks are never written.
    #[serde(default)]
    pub keep: bool,
    /// Use exactly these disks for the pool's data vdevs instead of the
    /// profile's filter; their number replaces the profile's count.
    #[serde(default)]
    pub disks: Vec<String>,
    /// This machine's layout for the pool instead of the profile's
    /// (e.g. raidz1 where the profile says mirror).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topology: Option<Topology>,
    /// The pool's encryption passphrase (8 to 512 characters), for a pool
    /// with key = "passphrase": set at creation, or loads a kept pool. Never
    /// written to the installed system, the plan or a log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passphrase: Option<String>,
    /// The passphrase in a file beside the answer (its first line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passphrase_file: Option<PathBuf>,
    /// A raw 32-byte key in a file beside the answer: the key of a pool
    /// with key = "file", or the key that loads a kept encrypted pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
    /// The key file's bytes, read by the loader.
    #[serde(skip)]
    #[schemars(skip)]
    pub key_bytes: Option<KeyBytes>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum AfterInstall {
    #[default]
    Reboot,
    Poweroff,
    Stay,
}
