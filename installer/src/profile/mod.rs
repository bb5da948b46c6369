//! The profile: what a server is. Plain data, no I/O; the loader reads it and
//! `validate` checks what serde cannot.

mod network;
mod services;
mod storage;
mod system;

pub use network::{Addressing, Network};
pub use services::*;
pub use storage::{
    AuxVdev, Dataset, DiskFilter, DiskKind, Encryption, KeySource, Pool, PoolRole, Storage,
    Topology, Transport,
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
