//! What the server offers. Each section is off unless present.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::size::Bytes;

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Services {
    #[serde(default)]
    pub ssh: Ssh,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samba: Option<Samba>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nfs: Option<Nfs>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker: Option<Docker>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hypervisor: Option<Hypervisor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wireguard: Option<WireGuard>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub syncthing: Option<Syncthing>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshots: Option<Snapshots>,
    /// syncoid jobs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replication: Vec<Replication>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_backup: Option<CloudBackup>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_target: Option<BackupTarget>,
    #[serde(default)]
    pub firewall: Firewall,
}

/// OpenSSH server; always installed.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Ssh {
    #[serde(default = "ssh_port")]
    pub port: u16,
    /// Allow password logins (keys are always allowed).
    #[serde(default)]
    pub password_authentication: bool,
}

impl Default for Ssh {
    fn default() -> Self {
        Ssh {
            port: ssh_port(),
            password_authentication: false,
        }
    }
}

fn ssh_port() -> u16 {
    22
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Samba {
    /// NetBIOS name: 1 to 15 letters, digits, - or _.
    #[serde(default = "workgroup")]
    pub workgroup: String,
    pub shares: Vec<SambaShare>,
}

fn workgroup() -> String {
    "WORKGROUP".into()
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct SambaShare {
    /// 1 to 28 letters, digits, spaces and - _ . (not global, homes,
    /// printers, print$ or ipc$); unique ignoring case.
    pub name: String,
    /// A directory on one of the profile's datasets: absolute, no `.` or
    /// `..` part, parts of letters, digits, spaces and . _ - + @.
    pub path: PathBuf,
    /// Users (from system.users) allowed in; empty: every user.
    #[serde(default)]
    pub users: Vec<String>,
    #[serde(default)]
    pub read_only: bool,
    /// Allow guests (no password).
    #[serde(default)]
    pub guest: bool,
    /// Offer the share to macOS Time Machine (vfs_fruit).
    #[serde(default)]
    pub time_machine: bool,
    /// Largest size Time Machine may use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_machine_max_size: Option<Bytes>,
    /// ZFS snapshots as Windows "Previous Versions" (shadow_copy2).
    #[serde(default = "yes")]
    pub previous_versions: bool,
    /// Deleted files go to .recycle instead of vanishing.
    #[serde(default)]
    pub recycle_bin: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Nfs {
    pub exports: Vec<NfsExport>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct NfsExport {
    /// A directory on one of the profile's datasets (the rule of share paths).
    pub path: PathBuf,
    /// Client networks or hosts, e.g. "192.168.1.0/24", "fd00::/64".
    pub clients: Vec<String>,
    /// exports(5) options: rw, ro, sync, async, (no_)root_squash,
    /// (no_)all_squash, (no_)subtree_check, secure, insecure, crossmnt,
    /// anonuid=N, anongid=N, fsid=, sec= and the other flags of exports(5).
    #[serde(default = "nfs_options")]
    pub options: Vec<String>,
}

fn nfs_options() -> Vec<String> {
    vec!["rw".into(), "sync".into(), "no_subtree_check".into()]
}

/// Docker engine (docker.io) with the zfs storage driver.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Docker {
    /// Dataset mounted at /var/lib/docker.
    pub dataset: String,
    #[serde(default)]
    pub apps: Vec<ComposeApp>,
}

/// A docker compose project run as a systemd unit.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ComposeApp {
    /// A compose project name: lowercase letters, digits, - and _.
    pub name: String,
    /// compose.yaml on the target (laid in by an overlay); a path by the
    /// rule of share paths.
    pub compose_file: PathBuf,
    /// Host ports the app publishes (TCP, 1 to 65535), opened in the firewall.
    #[serde(default)]
    pub ports: Vec<u16>,
    /// Dataset holding the app's data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
    /// Secrets made at first boot as /etc/hearth/apps/<name>/<secret>
    /// (root only), for the compose file's `secrets:`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Hypervisor {
    /// incus on Debian; proxmox (pct/qm) when base = "proxmox".
    pub kind: HypervisorKind,
    /// Dataset given to the hypervisor as its ZFS storage pool.
    pub dataset: String,
    #[serde(default)]
    pub containers: Vec<Guest>,
    #[serde(default)]
    pub vms: Vec<Guest>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum HypervisorKind {
    Incus,
    Proxmox,
}

/// A container or VM created at first boot.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Guest {
    pub name: String,
    /// Image alias or template, e.g. "debian/13".
    pub image: String,
    #[serde(default = "one_cpu")]
    pub cpus: u32,
    #[serde(default = "guest_memory")]
    pub memory: Bytes,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk: Option<Bytes>,
    #[serde(default = "yes")]
    pub autostart: bool,
}

fn one_cpu() -> u32 {
    1
}

fn guest_memory() -> Bytes {
    Bytes(512 * crate::size::MIB)
}

/// WireGuard VPN endpoint (wg0). The server key is made on the target.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct WireGuard {
    #[serde(default = "wg_port")]
    pub listen_port: u16,
    /// The server's tunnel address with prefix, IPv4 or IPv6, e.g.
    /// "10.8.0.1/24" or "fd00:8::1/64".
    pub address: String,
    /// The host name, IPv4 or IPv6 address clients dial (a DynDNS name,
    /// say), without port or brackets; absent: the server's own name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(default)]
    pub peers: Vec<WireGuardPeer>,
}

fn wg_port() -> u16 {
    51820
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct WireGuardPeer {
    pub name: String,
    /// The peer's tunnel address, e.g. "10.8.0.2/32".
    pub address: String,
    /// The peer's public key; absent: a key pair is made on the target and a
    /// client config (and QR code) is written for the admin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Syncthing {
    pub users: Vec<SyncthingUser>,
    /// Where the web GUI listens.
    #[serde(default)]
    pub gui: GuiBind,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct SyncthingUser {
    pub name: String,
    /// Dataset holding this user's synced folders.
    pub dataset: String,
    /// GUI port; each user needs their own.
    #[serde(default = "syncthing_port")]
    pub gui_port: u16,
}

fn syncthing_port() -> u16 {
    8384
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum GuiBind {
    #[default]
    Localhost,
    Lan,
}

/// sanoid snapshot policies.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Snapshots {
    pub policies: Vec<SnapshotPolicy>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct SnapshotPolicy {
    pub datasets: Vec<String>,
    #[serde(default = "yes")]
    pub recursive: bool,
    #[serde(default)]
    pub frequently: u32,
    #[serde(default)]
    pub hourly: u32,
    #[serde(default)]
    pub daily: u32,
    #[serde(default)]
    pub weekly: u32,
    #[serde(default)]
    pub monthly: u32,
    #[serde(default)]
    pub yearly: u32,
}

/// A syncoid job.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Replication {
    /// Local dataset to send.
    pub source: String,
    /// "pool/dataset" on this host or "user@host:pool/dataset" (host: a
    /// DNS name or IPv4 address).
    pub target: String,
    /// systemd OnCalendar expression: a shorthand (daily, weekly, ...) or
    /// `[Mon..Fri] [*-*-*] [HH:MM[:SS]] [timezone]`.
    #[serde(default = "daily")]
    pub schedule: String,
    #[serde(default = "yes")]
    pub recursive: bool,
}

/// restic backups to a remote repository.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct CloudBackup {
    /// restic repository, on one line without spaces or quotes: an
    /// absolute path, "rest:http(s)://host[:port]/path", "s3:...",
    /// "b2:bucket:path", "sftp:user@host:/path", "azure:", "gs:", "swift:",
    /// "rclone:" (the answer file may give it per machine).
    pub repository: String,
    /// Absolute paths, by the rule of share paths.
    pub paths: Vec<PathBuf>,
    /// systemd OnCalendar expression, as for replication.
    #[serde(default = "daily")]
    pub schedule: String,
    #[serde(default = "seven")]
    pub keep_daily: u32,
    #[serde(default = "four")]
    pub keep_weekly: u32,
    #[serde(default = "twelve")]
    pub keep_monthly: u32,
}

/// This server as a backup target for other devices.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct BackupTarget {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rest_server: Option<RestServer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zfs_receive: Option<ZfsReceive>,
}

/// restic's rest-server, with authentication.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RestServer {
    pub dataset: String,
    #[serde(default = "rest_port")]
    pub port: u16,
    /// Each client gets its own repository below the dataset.
    #[serde(default = "yes")]
    pub private_repos: bool,
    /// Devices that back up here. Each gets a password made at first boot,
    /// in /etc/hearth/rest-server/<client>.password, and a bcrypt entry in
    /// the server's htpasswd file.
    #[serde(default)]
    pub clients: Vec<String>,
}

fn rest_port() -> u16 {
    8000
}

/// An account that may only `zfs receive` into one dataset, over SSH.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ZfsReceive {
    /// A new account (not one of the system's): its shell runs only the
    /// gate, which lets through `zfs receive` into `dataset`.
    pub user: String,
    pub dataset: String,
    #[serde(default)]
    pub ssh_keys: Vec<String>,
}

/// nftables: inbound default deny, with the enabled services (and SSH) open.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Firewall {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Networks allowed to reach LAN services, IPv4 or IPv6; empty: any.
    #[serde(default)]
    pub lan: Vec<String>,
    /// Extra TCP ports to open.
    #[serde(default)]
    pub tcp: Vec<u16>,
    /// Extra UDP ports to open.
    #[serde(default)]
    pub udp: Vec<u16>,
}

impl Default for Firewall {
    fn default() -> Self {
        Firewall {
            enabled: true,
            lan: Vec::new(),
            tcp: Vec::new(),
            udp: Vec::new(),
        }
    }
}

fn yes() -> bool {
    true
}
fn daily() -> String {
    "daily".into()
}
fn seven() -> u32 {
    7
}
fn four() -> u32 {
    4
}
fn twelve() -> u32 {
    12
}
