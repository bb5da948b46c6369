//! First-boot work as data: what `hearth provision` carries out on the
//! booted system, step by step.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// A step `hearth provision` runs on the booted system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FirstBootStep {
    pub service: String,
    pub action: String,
    pub task: Task,
}

/// What a first-boot step does, as data the provisioner carries out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    rename_all = "kebab-case",
    rename_all_fields = "kebab-case",
    tag = "kind"
)]
pub enum Task {
    /// A WireGuard key pair: `<base>.key` (0600) and `<base>.pub`.
    WireguardKey { base: PathBuf },
    /// A random password in a file only root reads.
    SecretFile { path: PathBuf },
    /// A system user for `zfs receive` with its SSH keys, and the
    /// delegation on its dataset (stored by uid, so made on the running system).
    ZfsReceive {
        user: String,
        dataset: String,
        ssh_keys: Vec<String>,
    },
    /// A share's folder owned by a group of its users, setgid, so each
    /// can write and what they write stays shared.
    ShareAccess {
        path: PathBuf,
        group: String,
        users: Vec<String>,
    },
    /// wg0.conf (0600): the profile's template with the server's private
    /// key and the generated peers' public keys, read from their files.
    WireguardServer {
        template: String,
        peers: Vec<crate::wireguard::GeneratedPeer>,
    },
    /// A generated peer's client config (0600) and its QR code, from the
    /// peer's and the server's keys.
    WireguardClient {
        name: String,
        address: String,
        endpoint: String,
        allowed_ips: Vec<String>,
    },
    /// rest-server's system user owning its folder, and a password (root
    /// only) plus htpasswd entry per client.
    RestServer { path: PathBuf, clients: Vec<String> },
    /// A user's Syncthing configuration, made as the user, with a folder
    /// on their dataset, which they own.
    Syncthing {
        user: String,
        path: PathBuf,
        sync_port: u16,
    },
    /// `incus admin init --preseed` with this preseed, unless Incus has
    /// its storage pool already.
    IncusInit { preseed: String, dataset: String },
    /// An SSH key pair (no passphrase) made here, e.g. syncoid's.
    SshKey { path: PathBuf },
    /// The builder's image in Incus's store under `alias`.
    IncusImage {
        alias: String,
        metadata: PathBuf,
        rootfs: PathBuf,
    },
    /// An Incus container (`launch`) or VM (`init`), unless it exists.
    IncusGuest { name: String, args: Vec<String> },
    /// The builder's root filesystem as a Docker image, for apps offline.
    DockerImage { tag: String, rootfs: PathBuf },
    /// A file copied unless it is there (a container template).
    CopyFile { from: PathBuf, to: PathBuf },
    /// Proxmox's ZFS storage for guests (`pvesm add`), unless it exists.
    ProxmoxStorage { name: String, args: Vec<String> },
    /// A Proxmox guest: `pct` or `qm` with `args`, unless `id` exists.
    ProxmoxGuest {
        tool: String,
        id: u32,
        args: Vec<String>,
    },
    /// A step whose service module is not built yet.
    NotBuilt,
}

impl FirstBootStep {
    pub fn new(service: &str, action: impl Into<String>, task: Task) -> Self {
        FirstBootStep {
            service: service.into(),
            action: action.into(),
            task,
        }
    }
}
