//! Carrying out a first-boot task by the service that owns it.

use std::path::Path;

use anyhow::Result;

pub use crate::first_boot::Outcome;
use crate::first_boot::{secret_file, under};
use crate::runner::Runner;
use crate::{
    docker, incus, proxmox, rest_server, samba, syncoid, syncthing, wireguard, zfs_receive, Task,
};

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
        Task::WireguardServer { template, peers } => {
            wireguard::provision::server(root, template, peers)
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
