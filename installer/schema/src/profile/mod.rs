//! The profile: what a server is. Plain data, no I/O; the loader reads it and
//! `validate` checks what serde cannot.

mod care;
mod network;
mod services;
mod storage;
mod system;

pub use care::{
    Alerts, AutomaticUpdates, BootEnvironments, EmailAlerts, SmtpTls, Updates, Webhook, WebhookKind,
};
pub use network::{Addressing, Network, NicMatch};
pub use services::*;
pub use storage::{
    AuxVdev, Dataset, DiskFilter, DiskKind, Encryption, KeyBytes, KeySource, Pool, PoolRole,
    Storage, Topology, Transport,
};
pub use system::{RootLogin, System, User};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A Hearth profile: one TOML file describing a whole server.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Profile {
    /// Short name, used in the ISO file name.
    pub name: String,
    /// One line saying what this profile is for.
    #[serde(default)]
    pub description: String,
    /// Another profile (file name in the same folder, without .toml) whose
    /// settings this one starts from. Only one level of layering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extends: Option<String>,
    /// Distribution the server runs: plain Debian, or Debian with the Proxmox VE repository.
    #[serde(default)]
    pub base: Base,
    /// Debian suite.
    #[serde(default = "default_suite")]
    pub suite: String,
    pub system: System,
    #[serde(default)]
    pub network: Network,
    pub storage: Storage,
    #[serde(default)]
    pub services: Services,
    /// Where alerts go when something needs a person.
    #[serde(default, skip_serializing_if = "is_default")]
    pub alerts: Alerts,
    /// Security and stable updates.
    #[serde(default)]
    pub updates: Updates,
    /// How many systems an upgrade keeps to roll back to.
    #[serde(default, skip_serializing_if = "is_default")]
    pub boot_environments: BootEnvironments,
    /// The Proxmox VE repository; required when base = "proxmox".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxmox: Option<ProxmoxRepo>,
}

/// Where Proxmox VE packages come from. The signing key is downloaded when
/// the image is built and must match `key-sha256`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ProxmoxRepo {
    /// Repository URL.
    #[serde(default = "default_pve_url")]
    pub url: String,
    /// Repository component: pve-no-subscription or pve-enterprise.
    #[serde(default = "default_pve_component")]
    pub component: String,
    /// Where the repository's signing key (binary OpenPGP) is downloaded from.
    #[serde(default = "default_pve_key_url")]
    pub key_url: String,
    /// SHA-256 of that key file, checked before it is trusted.
    pub key_sha256: String,
}

fn default_pve_url() -> String {
    "http://download.proxmox.com/debian/pve".into()
}

fn default_pve_component() -> String {
    "pve-no-subscription".into()
}

fn default_pve_key_url() -> String {
    "https://enterprise.proxmox.com/debian/proxmox-archive-keyring-trixie.gpg".into()
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

fn default_suite() -> String {
    "trixie".into()
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Base {
    #[default]
    Debian,
    Proxmox,
}
