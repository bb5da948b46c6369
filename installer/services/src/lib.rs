//! Hearth's services. Each lives in a folder of its own and says, through
//! [`Service`], everything it adds to a system: packages, the files it
//! renders, units, firewall ports, first-boot tasks and the checks of its
//! profile section. The plan joins what the registered services say, as
//! disko's node types each emit their own pieces.
//!
//! Adding a service: a folder with a type that implements [`Service`], its
//! `mod` line below, and one line in [`REGISTRY`].

pub mod alerts;
pub mod boot_env;
pub mod check;
pub mod docker;
pub mod encryption;
pub mod file;
pub mod firewall;
pub mod first_boot;
pub mod guests;
pub mod incus;
pub mod kept;
pub mod nfs;
pub mod ports;
pub mod provision;
pub mod proxmox;
pub mod rest_server;
pub mod restic;
pub mod samba;
pub mod sanoid;
pub mod secure_boot;
pub mod smart;
pub mod ssh;
pub mod syncoid;
pub mod syncthing;
mod task;
pub mod timer;
pub mod timesync;
pub mod unit;
pub mod updates;
pub mod users;
pub mod wireguard;
pub mod zfs_receive;

use std::collections::BTreeSet;

pub use check::Context;
pub use file::{File, Mode};
pub use kept::Kept;
pub use task::{FirstBootStep, Task};

use crate::ports::Port;
use crate::profile::{Base, Profile};
use hearth_schema::validate::Findings;
use hearth_schema::{datasets, keypath, load, profile, size, source};
use hearth_system::{accounts, runner};

/// What a service adds to a system, each part from the profile alone.
/// A service that is not enabled in the profile adds nothing.
pub trait Service: Sync {
    /// Debian packages it needs.
    fn packages(&self, _profile: &Profile) -> Vec<&'static str> {
        Vec::new()
    }

    /// systemd units enabled on the installed system.
    fn units(&self, _profile: &Profile) -> Vec<String> {
        Vec::new()
    }

    /// Files written at install time (configs, units, drop-ins).
    fn files(&self, _profile: &Profile) -> Vec<File> {
        Vec::new()
    }

    /// Ports it listens on, for the firewall and collision checks.
    fn ports(&self, _profile: &Profile) -> Vec<Port> {
        Vec::new()
    }

    /// Work that needs the installed system running, in order.
    fn first_boot(&self, _profile: &Profile) -> Vec<FirstBootStep> {
        Vec::new()
    }

    /// What it makes on the server that is its identity or a secret: kept
    /// on the data pool and in the recovery kit, put back by a reinstall.
    fn kept(&self, _profile: &Profile) -> Vec<Kept> {
        Vec::new()
    }

    /// Checks of its profile section that serde cannot make.
    fn check(&self, _profile: &Profile, _ctx: &Context, _out: &mut Findings) {}
}

/// Every service, in the order their parts appear in a plan.
pub static REGISTRY: &[&dyn Service] = &[
    &ssh::SshServer,
    &samba::SmbServer,
    &nfs::NfsServer,
    &docker::DockerEngine,
    &incus::IncusHost,
    &proxmox::ProxmoxHost,
    &wireguard::WireGuardVpn,
    &syncthing::SyncthingSync,
    &sanoid::Sanoid,
    &syncoid::Syncoid,
    &restic::Restic,
    &rest_server::RestServerTarget,
    &zfs_receive::ZfsReceiveTarget,
    &firewall::NftFirewall,
    &timesync::TimeSync,
    &updates::AptUpdates,
    &smart::SmartMonitor,
    &alerts::AlertSender,
    &encryption::PoolEncryption,
    &boot_env::BootEnvironments,
    &secure_boot::MachineKey,
];

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
    // Secure Boot: shim and MokManager, GRUB signed by Debian, mokutil to
    // enroll the machine's module-signing key.
    "shim-signed",
    "shim-helpers-amd64-signed",
    "grub-efi-amd64-signed",
    "mokutil",
    "dosfstools",
    "gdisk",
    "sudo",
    "locales",
    "console-setup",
    "tzdata",
    "iproute2",
    "ca-certificates",
    "zstd",
    // Day-two care on every server: time, updates, SMART, mail for alerts.
    "systemd-timesyncd",
    "unattended-upgrades",
    "smartmontools",
    "msmtp",
];

/// Units every Hearth system enables.
const BASE_UNITS: &[&str] = &[
    "systemd-networkd.service",
    "systemd-resolved.service",
    "zfs-import-cache.service",
    "zfs-mount.service",
    "zfs-zed.service",
    "zfs.target",
];

/// Loads a profile and checks it, the services' sections included.
pub fn load_profile(path: &std::path::Path) -> Result<load::Loaded<Profile>, source::Problems> {
    load::profile_with(path, check::findings)
}

/// Debian's kernel and the ZFS module DKMS builds for it: a Proxmox base
/// has its own kernel, which carries ZFS. chrony replaces timesyncd there,
/// as Proxmox's install-on-Debian procedure has it.
const DEBIAN_ONLY: &[&str] = &[
    "linux-image-amd64",
    "linux-headers-amd64",
    "zfs-dkms",
    "systemd-timesyncd",
];

/// What Proxmox's install-on-Debian procedure installs.
const PROXMOX_PACKAGES: &[&str] = &[
    "proxmox-archive-keyring",
    "proxmox-default-kernel",
    "proxmox-ve",
    "postfix",
    "open-iscsi",
    "chrony",
];

/// Every package the profile's system needs, sorted.
pub fn packages(profile: &Profile) -> Vec<String> {
    let mut set: BTreeSet<&str> = BASE_PACKAGES.iter().copied().collect();
    if profile.base == Base::Proxmox {
        set.retain(|p| !DEBIAN_ONLY.contains(p));
        set.extend(PROXMOX_PACKAGES);
    }
    for service in REGISTRY {
        set.extend(service.packages(profile));
    }
    set.into_iter().map(String::from).collect()
}

/// systemd units enabled on the installed system; first boot comes last.
pub fn units(profile: &Profile) -> Vec<String> {
    let mut units: Vec<String> = BASE_UNITS.iter().map(|u| u.to_string()).collect();
    units.extend(REGISTRY.iter().flat_map(|s| s.units(profile)));
    units.push("hearth-firstboot.service".into());
    units
}

/// Every service's files.
pub fn files(profile: &Profile) -> Vec<File> {
    REGISTRY.iter().flat_map(|s| s.files(profile)).collect()
}

/// Every port a service of the profile listens on.
pub fn listening(profile: &Profile) -> Vec<Port> {
    REGISTRY.iter().flat_map(|s| s.ports(profile)).collect()
}

/// Work that needs the installed system running, in order.
pub fn first_boot(profile: &Profile) -> Vec<FirstBootStep> {
    REGISTRY
        .iter()
        .flat_map(|s| s.first_boot(profile))
        .collect()
}

/// What the server keeps of itself: the base's, then every service's.
pub fn kept(profile: &Profile) -> Vec<Kept> {
    let mut all = kept::base();
    all.extend(REGISTRY.iter().flat_map(|s| s.kept(profile)));
    all
}
