use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Identity and accounts of the installed system.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct System {
    /// Host name (a DNS label). The answer file usually sets it per machine.
    #[serde(default = "default_hostname")]
    pub hostname: String,
    /// DNS domain (labels of letters, digits and inner dashes, joined by
    /// dots); hostname.domain is the FQDN.
    #[serde(default = "default_domain")]
    pub domain: String,
    /// IANA time zone, e.g. "Europe/Brussels".
    #[serde(default = "default_timezone")]
    pub timezone: String,
    #[serde(default = "default_locale")]
    pub locale: String,
    /// Console keymap: XKB layout names, comma-separated, e.g. "us", "be", "de,us".
    #[serde(default = "default_keymap")]
    pub keymap: String,
    /// NTP servers (host names or addresses) systemd-timesyncd asks;
    /// empty: Debian's pool.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ntp: Vec<String>,
    /// How root may log in over SSH ("password" needs
    /// services.ssh.password-authentication = true).
    #[serde(default)]
    pub root_login: RootLogin,
    /// Root's password: a crypt hash ("$y$...", "$6$..."), "ask", or "locked".
    #[serde(default = "locked")]
    pub root_password: String,
    /// Public keys allowed to log in as root.
    #[serde(default)]
    pub root_ssh_keys: Vec<String>,
    #[serde(default)]
    pub users: Vec<User>,
}

/// A login account.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct User {
    pub name: String,
    /// A crypt hash ("$y$...", "$6$..."), "ask" (the answer file or the
    /// interactive installer gives it), or "locked" (SSH keys only).
    #[serde(default = "ask")]
    pub password: String,
    #[serde(default)]
    pub ssh_keys: Vec<String>,
    /// Supplementary groups, e.g. "sudo", "docker", "incus-admin": each
    /// must exist on the installed system (docker and incus-admin come with
    /// their services).
    #[serde(default)]
    pub groups: Vec<String>,
    /// From the answer only: a secret has no place in a shared profile.
    #[serde(skip)]
    #[schemars(skip)]
    pub samba_nt_hash: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RootLogin {
    /// No root login over SSH.
    Disabled,
    /// Root logs in with a key only (PermitRootLogin prohibit-password).
    #[default]
    KeyOnly,
    /// Root logs in with a key or a password.
    Password,
}

fn default_hostname() -> String {
    "hearth".into()
}
fn default_domain() -> String {
    "home.arpa".into()
}
fn default_timezone() -> String {
    "Etc/UTC".into()
}
fn default_locale() -> String {
    "en_US.UTF-8".into()
}
fn default_keymap() -> String {
    "us".into()
}
fn locked() -> String {
    "locked".into()
}
fn ask() -> String {
    "ask".into()
}
