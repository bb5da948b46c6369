//! What first-boot tasks share: the outcome each reports, and carrying one
//! out by the service that owns it. Each task looks before it acts, so a
//! second run changes nothing.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::Result;
use base64::Engine;

use crate::runner::Runner;
use crate::{
    docker, incus, proxmox, rest_server, samba, syncoid, syncthing, wireguard, zfs_receive, Task,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Changed(String),
    Unchanged,
    /// Only the admin can go on (why, and what to run); the service's
    /// later steps wait, the others go ahead.
    NeedsAdmin(String),
    NotBuilt,
}

/// Carries out one task on the system rooted at `root` ("/" on the server).
pub fn apply(task: &Task, root: &Path, runner: &Runner) -> Result<Outcome> {
    match task {
        Task::WireguardKey { base } => wireguard::provision::key_pair(&under(root, base), runner),
        Task::SecretFile { path } => secret_file(&under(root, path)),
        Task::ZfsReceive {
            user,
            dataset,
            ssh_keys,
        } => zfs_receive::provision::delegate(root, user, dataset, ssh_keys, runner),
        Task::ShareAccess { path, group, users } => {
            samba::provision::share_access(root, &under(root, path), group, users, runner)
        }
        Task::WireguardClient {
            name,
            address,
            endpoint,
            allowed_ips,
        } => wireguard::provision::client(root, name, address, endpoint, allowed_ips, runner),
        Task::RestServer { path, clients } => {
            rest_server::provision::served_folder(root, &under(root, path), clients, runner)
        }
        Task::Syncthing {
            user,
            path,
            sync_port,
        } => syncthing::provision::configure(root, user, &under(root, path), *sync_port, runner),
        Task::IncusInit { preseed, dataset } => incus::provision::init(preseed, dataset, runner),
        Task::SshKey { path } => syncoid::provision::ssh_key(&under(root, path), runner),
        Task::IncusImage {
            alias,
            metadata,
            rootfs,
        } => incus::provision::image(alias, metadata, rootfs, runner),
        Task::IncusGuest { name, args } => incus::provision::guest(name, args, runner),
        Task::DockerImage { tag, rootfs } => docker::provision::import_image(tag, rootfs, runner),
        Task::CopyFile { from, to } => {
            proxmox::provision::copy_file(&under(root, from), &under(root, to))
        }
        Task::ProxmoxStorage { name, args } => proxmox::provision::storage(name, args, runner),
        Task::ProxmoxGuest { tool, id, args } => proxmox::provision::guest(tool, *id, args, runner),
        Task::NotBuilt => Ok(Outcome::NotBuilt),
    }
}

/// Unchanged when a task found everything in place, else what it did.
pub fn outcome(changed: Vec<String>) -> Outcome {
    if changed.is_empty() {
        Outcome::Unchanged
    } else {
        Outcome::Changed(changed.join(", "))
    }
}

pub fn under(root: &Path, path: &Path) -> PathBuf {
    root.join(path.strip_prefix("/").unwrap_or(path))
}

pub fn secret_file(path: &Path) -> Result<Outcome> {
    if path.is_file() {
        return Ok(Outcome::Unchanged);
    }
    let bytes = crate::runner::random_bytes::<32>()?;
    // URL-safe: a rest-server password goes into a repository URL.
    let text = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    write_private(path, &format!("{text}\n"))?;
    Ok(Outcome::Changed(format!("{} (mode 0600)", path.display())))
}

/// Written with mode 0600 before the secret goes in.
pub fn write_private(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    fs::write(path, "")?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))?;
    fs::write(path, text)?;
    Ok(())
}
