//! What a server makes for itself and cannot make again the same: keys,
//! passwords, device identities. Each service names its own; Hearth keeps
//! them on the first data pool and a reinstall puts them back.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// A file or folder (with everything below it) kept for the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Kept {
    pub path: PathBuf,
    /// What it is, for the plan preview and the recovery kit.
    pub what: String,
    /// Put back by a reinstall; else only kept (the previous plan, for one).
    pub restore: bool,
}

impl Kept {
    pub fn new(path: impl Into<PathBuf>, what: &str) -> Self {
        Kept {
            path: path.into(),
            what: what.into(),
            restore: true,
        }
    }

    /// Kept for the record and the kit, never put back over the new one.
    pub fn record(path: impl Into<PathBuf>, what: &str) -> Self {
        Kept {
            restore: false,
            ..Kept::new(path, what)
        }
    }
}

/// The items grouped by what they are, in the order each was first named.
pub fn by_what(items: &[Kept]) -> Vec<(&str, Vec<&Kept>)> {
    let mut groups: Vec<(&str, Vec<&Kept>)> = Vec::new();
    for item in items {
        match groups.iter_mut().find(|(what, _)| *what == item.what) {
            Some((_, members)) => members.push(item),
            None => groups.push((&item.what, vec![item])),
        }
    }
    groups
}

/// What every Hearth server keeps, whatever its services.
pub fn base() -> Vec<Kept> {
    vec![
        // systemd-networkd derives the DHCP client ID and a bridge's MAC
        // address from it: the router hands the server its old address.
        Kept::new("/etc/machine-id", "machine ID (DHCP identity)"),
        Kept::new("/var/lib/hearth/provision.json", "first-boot record"),
        Kept::record("/etc/hearth/plan.json", "the plan that installed it"),
        Kept::record(
            "/etc/hearth/answer.toml",
            "the answer it was installed from",
        ),
        Kept::record(
            "/etc/hearth/profile.toml",
            "the profile it was installed from",
        ),
        Kept::new(
            "/var/lib/hearth/recovery-kit.json",
            "when the last recovery kit was made",
        ),
    ]
}
