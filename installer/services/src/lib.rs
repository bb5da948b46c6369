//! What each enabled service adds to the system: packages, units and
//! first-boot steps, the checks of its profile section, and the renderers of
//! its config files, beside this.

pub mod check;
pub mod firewall;
pub mod guests;
pub mod incus;
pub mod nfs;
pub mod ports;
pub mod proxmox;
pub mod rest_server;
pub mod restic;
pub mod samba;
pub mod sanoid;
pub mod syncoid;
pub mod syncthing;
pub mod wireguard;

use std::collections::BTreeSet;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::profile::{Base, HypervisorKind, Profile};
use hearth_schema::{datasets, keypath, load, profile, size, source};

/// Loads a profile and checks it, the services' sections included.
pub fn load_profile(path: &std::path::Path) -> Result<load::Loaded<Profile>, source::Problems> {
    load::profile_with(path, check::findings)
}

/// Packages every Hearth system has.
const BASE_PACKAGES: &[&str] = &[
    "linux-image-amd64",
    "linux-headers-amd64",
    "systemd-sysv",
    "systemd-resolved",
    "zfs-dkms",
    "zfsutils-linux",
    "zfs-initramfs",
    "zfs-zed",
    "grub2-common",
    "grub-pc-bin",
    "grub-efi-amd64-bin",
    "efibootmgr",
    "dosfstools",
    "gdisk",
    "openssh-server",
    "sudo",
    "locales",
    "console-setup",
    "tzdata",
    "iproute2",
    "ca-certificates",
    "zstd",
];

/// A step `installer provision` runs on the booted system.
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

/// A systemd timer for one of Hearth's oneshot units: on `schedule`
/// (OnCalendar), caught up after downtime, spread by up to `delay`.
pub fn timer_unit(section: &str, description: &str, schedule: &str, delay: &str) -> String {
    format!(
        "# Written by the Hearth installer from {section}.\n\
         [Unit]\n\
         Description={description} on schedule {schedule} (Hearth)\n\n\
         [Timer]\n\
         OnCalendar={schedule}\n\
         Persistent=true\n\
         RandomizedDelaySec={delay}\n\n\
         [Install]\n\
         WantedBy=timers.target\n"
    )
}

pub fn packages(profile: &Profile) -> Vec<String> {
    let mut set: BTreeSet<&str> = BASE_PACKAGES.iter().copied().collect();
    let s = &profile.services;
    if let Some(samba) = &s.samba {
        set.extend(["samba", "samba-vfs-modules"]);
        if samba.shares.iter().any(|share| share.time_machine) {
            set.insert("avahi-daemon");
        }
    }
    if s.nfs.is_some() {
        set.insert("nfs-kernel-server");
    }
    if s.docker.is_some() {
        // trixie ships the client apart from the daemon.
        set.extend(["docker.io", "docker-cli", "docker-compose"]);
    }
    match s.hypervisor.as_ref().map(|h| h.kind) {
        Some(HypervisorKind::Incus) => set.extend(["incus", "qemu-system-x86", "ovmf"]),
        Some(HypervisorKind::Proxmox) => {
            set.extend(["proxmox-ve", "postfix", "open-iscsi", "chrony"])
        }
        None => {}
    }
    if profile.base == Base::Proxmox {
        set.insert("proxmox-archive-keyring");
    }
    if s.wireguard.is_some() {
        set.extend(["wireguard-tools", "qrencode"]);
    }
    if s.syncthing.is_some() {
        set.insert("syncthing");
    }
    if s.snapshots.is_some() || !s.replication.is_empty() {
        set.extend(["sanoid", "mbuffer", "lzop", "pv"]);
    }
    if s.cloud_backup.is_some() {
        set.insert("restic");
    }
    if let Some(target) = &s.backup_target {
        if target.rest_server.is_some() {
            set.extend(["restic-rest-server", "apache2-utils"]);
        }
    }
    if s.firewall.enabled {
        set.insert("nftables");
    }
    set.into_iter().map(String::from).collect()
}

/// systemd units enabled on the installed system.
pub fn units(profile: &Profile) -> Vec<String> {
    let mut units: Vec<String> = [
        "ssh.service",
        "systemd-networkd.service",
        "systemd-resolved.service",
    ]
    .into_iter()
    .chain([
        "zfs-import-cache.service",
        "zfs-mount.service",
        "zfs-zed.service",
        "zfs.target",
    ])
    .map(String::from)
    .collect();
    let s = &profile.services;
    let mut add = |unit: String| units.push(unit);
    if let Some(samba) = &s.samba {
        add("smbd.service".into());
        if samba.shares.iter().any(|share| share.time_machine) {
            add("avahi-daemon.service".into());
        }
    }
    if s.nfs.is_some() {
        add("nfs-server.service".into());
    }
    if let Some(docker) = &s.docker {
        add("docker.service".into());
        for app in &docker.apps {
            add(format!("hearth-compose@{}.service", app.name));
        }
    }
    if let Some(hypervisor) = &s.hypervisor {
        add(match hypervisor.kind {
            HypervisorKind::Incus => "incus.service".into(),
            HypervisorKind::Proxmox => "pve-cluster.service".into(),
        });
    }
    if s.wireguard.is_some() {
        add("wg-quick@wg0.service".into());
    }
    if let Some(syncthing) = &s.syncthing {
        for user in &syncthing.users {
            add(format!("syncthing@{}.service", user.name));
        }
    }
    if s.snapshots.is_some() {
        add("sanoid.timer".into());
    }
    for i in 0..s.replication.len() {
        add(format!("hearth-syncoid-{i}.timer"));
    }
    if s.cloud_backup.is_some() {
        add("hearth-restic-backup.timer".into());
    }
    if s.backup_target
        .as_ref()
        .is_some_and(|t| t.rest_server.is_some())
    {
        add("hearth-rest-server.service".into());
    }
    if s.firewall.enabled {
        add("nftables.service".into());
    }
    add("hearth-firstboot.service".into());
    units
}

/// Work that needs the installed system running, in order.
pub fn first_boot(profile: &Profile) -> Vec<FirstBootStep> {
    let mut steps = Vec::new();
    let mut add = |service: &str, action: String, task: Task| {
        steps.push(FirstBootStep {
            service: service.into(),
            action,
            task,
        });
    };
    let s = &profile.services;
    for share in s.samba.iter().flat_map(|samba| &samba.shares) {
        if share.users.is_empty() {
            continue;
        }
        let group = samba::share_group(&share.name);
        add(
            "samba",
            format!(
                "give group {group} ({}) the folder {}",
                share.users.join(", "),
                share.path.display()
            ),
            Task::ShareAccess {
                path: share.path.clone(),
                group,
                users: share.users.clone(),
            },
        );
    }
    if let Some(wg) = &s.wireguard {
        add(
            "wireguard",
            "generate the server key pair in /etc/wireguard (mode 0600)".into(),
            Task::WireguardKey {
                base: "/etc/wireguard/wg0".into(),
            },
        );
        for peer in wg.peers.iter().filter(|p| p.public_key.is_none()) {
            add(
                "wireguard",
                format!("generate a key pair for peer {}", peer.name),
                Task::WireguardKey {
                    base: wireguard::peer_key(&peer.name),
                },
            );
            add(
                "wireguard",
                format!("write the client config and QR code of peer {}", peer.name),
                Task::WireguardClient {
                    name: peer.name.clone(),
                    address: peer.address.clone(),
                    endpoint: wireguard::endpoint(profile, wg),
                    allowed_ips: wireguard::client_allowed_ips(profile, wg),
                },
            );
        }
    }
    if let Some(hypervisor) = &s.hypervisor {
        let (tool, ct, vm_verb) = ("incus", "incus launch", "incus init --vm");
        if hypervisor.kind == HypervisorKind::Incus {
            add(
                tool,
                format!(
                    "initialise incus: storage pool on {}, guests on {}",
                    hypervisor.dataset,
                    profile
                        .network
                        .bridge
                        .as_deref()
                        .unwrap_or("incusbr0 (NAT)")
                ),
                Task::IncusInit {
                    dataset: hypervisor.dataset.clone(),
                    preseed: incus::preseed(&hypervisor.dataset, profile.network.bridge.as_deref()),
                },
            );
        }
        let local = guests::incus_alias(&profile.suite);
        let of_local = hypervisor.containers.iter().any(|g| g.image == local);
        if hypervisor.kind == HypervisorKind::Incus && of_local {
            add(
                tool,
                format!("import the ISO's Debian image as {local}"),
                Task::IncusImage {
                    alias: local.clone(),
                    metadata: guests::image_file(guests::METADATA),
                    rootfs: guests::image_file(guests::ROOTFS),
                },
            );
        }
        if hypervisor.kind == HypervisorKind::Proxmox {
            proxmox_steps(profile, hypervisor, &mut add);
        }
        let kinds = [(&hypervisor.containers, false), (&hypervisor.vms, true)];
        for (list, vm) in kinds
            .into_iter()
            .filter(|_| hypervisor.kind == HypervisorKind::Incus)
        {
            for guest in list {
                let verb = if vm { vm_verb } else { ct };
                let args = guests::incus_create_args(guest, vm, &local);
                let action = if args.iter().any(|a| a == "--empty") {
                    format!(
                        "{verb} {} with an empty disk ({} holds no VM disk)",
                        guest.name, guest.image
                    )
                } else {
                    format!("{verb} {} from {}", guest.name, guest.image)
                };
                let task = Task::IncusGuest {
                    name: guest.name.clone(),
                    args,
                };
                add(tool, action, task);
            }
        }
    }
    if let Some(docker) = s.docker.as_ref().filter(|d| !d.apps.is_empty()) {
        let tag = guests::docker_tag(&profile.suite);
        add(
            "docker",
            format!("import the ISO's Debian root filesystem as image {tag}"),
            Task::DockerImage {
                tag,
                rootfs: guests::image_file(guests::ROOTFS),
            },
        );
        for app in &docker.apps {
            for secret in &app.secrets {
                add(
                    "docker",
                    format!("generate secret {secret} of app {} (root only)", app.name),
                    Task::SecretFile {
                        path: guests::secret_path(&app.name, secret),
                    },
                );
            }
        }
    }
    if s.replication.iter().any(|j| syncoid::is_remote(&j.target)) {
        add(
            "syncoid",
            format!(
                "generate the key syncoid logs in with ({}.pub goes to the other host)",
                syncoid::SSH_KEY
            ),
            Task::SshKey {
                path: syncoid::SSH_KEY.into(),
            },
        );
    }
    if let Some(syncthing) = &s.syncthing {
        for (i, user) in syncthing.users.iter().enumerate() {
            add(
                "syncthing",
                format!(
                    "create the configuration of {} with a folder on {}",
                    user.name, user.dataset
                ),
                Task::Syncthing {
                    user: user.name.clone(),
                    path: crate::datasets::mounted_at(profile, &user.dataset),
                    sync_port: ports::syncthing_sync_port(i),
                },
            );
        }
    }
    if s.cloud_backup.is_some() {
        add(
            "restic",
            "generate the repository password (root only)".into(),
            Task::SecretFile {
                path: restic::PASSWORD.into(),
            },
        );
    }
    if let Some(target) = &s.backup_target {
        if let Some(rest) = &target.rest_server {
            let path = rest_server::served_path(profile, rest);
            add(
                "rest-server",
                format!(
                    "give user {} the folder {} and make the clients' passwords ({})",
                    rest_server::USER,
                    path.display(),
                    rest.clients.join(", ")
                ),
                Task::RestServer {
                    path,
                    clients: rest.clients.clone(),
                },
            );
        }
        if let Some(receive) = &target.zfs_receive {
            add(
                "zfs-receive",
                format!(
                    "create user {} and zfs allow it receive,create,mount on {}",
                    receive.user, receive.dataset
                ),
                Task::ZfsReceive {
                    user: receive.user.clone(),
                    dataset: receive.dataset.clone(),
                    ssh_keys: receive.ssh_keys.clone(),
                },
            );
        }
    }
    steps
}

/// Proxmox VE: the storage, the ISO's image as a container template, and
/// each guest as `pct create`/`qm create`, numbered from 100.
fn proxmox_steps(
    profile: &Profile,
    hypervisor: &crate::profile::Hypervisor,
    add: &mut impl FnMut(&str, String, Task),
) {
    let bridge = profile.network.bridge.as_deref().unwrap_or("vmbr0");
    let local = guests::incus_alias(&profile.suite);
    let release = guests::release(&profile.suite);
    add(
        "proxmox",
        format!(
            "add ZFS storage {} on {}",
            proxmox::STORAGE,
            hypervisor.dataset
        ),
        Task::ProxmoxStorage {
            name: proxmox::STORAGE.into(),
            args: proxmox::storage_args(hypervisor),
        },
    );
    if hypervisor.containers.iter().any(|g| g.image == local) {
        let to = std::path::Path::new(proxmox::TEMPLATES).join(proxmox::template_name(release));
        add(
            "proxmox",
            format!("lay in the ISO's Debian image as template {}", to.display()),
            Task::CopyFile {
                from: guests::image_file(guests::ROOTFS),
                to,
            },
        );
    }
    let mut id = proxmox::FIRST_ID;
    for guest in &hypervisor.containers {
        add(
            "proxmox",
            format!("pct create {id} ({}) from {}", guest.name, guest.image),
            Task::ProxmoxGuest {
                tool: "pct".into(),
                id,
                args: proxmox::container_args(id, guest, &local, release, bridge),
            },
        );
        id += 1;
    }
    for guest in &hypervisor.vms {
        add(
            "proxmox",
            format!("qm create {id} ({}) with an empty disk", guest.name),
            Task::ProxmoxGuest {
                tool: "qm".into(),
                id,
                args: proxmox::vm_args(id, guest, bridge),
            },
        );
        id += 1;
    }
}
