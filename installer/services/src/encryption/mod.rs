//! Encrypted pools on the installed system: the root pool's passphrase
//! asked in the initramfs on every console, and over SSH into it
//! (dropbear-initramfs) when the profile asks; data pools' keys loaded at
//! boot before anything mounts; the keys kept with the server's state.

use crate::kept::Kept;
use crate::profile::{Addressing, Encryption, KeySource, NicMatch, Pool, PoolRole, Profile};
use crate::{File, Service};

/// Where data pools' raw keys live on the (encrypted) root.
pub const KEY_DIR: &str = "/etc/zfs/keys";
/// dropbear's port in the initramfs: its own, never the system's sshd's.
pub const UNLOCK_PORT: u16 = 2222;

const LOAD_KEY_EXTENSION: &str = "/etc/zfs/initramfs-tools-load-key.d/hearth";
const LOAD_KEY_SCRIPT: &str = include_str!("load-key.sh");
const LOAD_KEY_UNIT: &str = "/etc/systemd/system/hearth-load-key@.service";
const DROPBEAR_DIR: &str = "/etc/dropbear/initramfs";

/// Read by dropbear's initramfs scripts, so it is the same for every
/// server: nothing from a profile goes into a file a shell reads.
const DROPBEAR_CONF: &str =
    "# Written by the Hearth installer: dropbear in the initramfs, for typing\n\
# the root pool's passphrase over SSH (ssh -p 2222 root@SERVER zfsunlock).\n\
# Key logins only (-s), no port forwarding (-j -k), idle sessions end (-I 300).\n\
DROPBEAR_OPTIONS=\"-p 2222 -s -j -k -I 300\"\n";

/// Runs before zfs-mount: a pool whose key is not loaded cannot mount.
const LOAD_KEY_UNIT_TEXT: &str = "# Written by the Hearth installer.\n\
[Unit]\n\
Description=Load the encryption keys of ZFS pool %i\n\
DefaultDependencies=no\n\
After=zfs-import.target\n\
Before=zfs-mount.service\n\
ConditionPathIsDirectory=/sys/module/zfs\n\n\
[Service]\n\
Type=oneshot\n\
RemainAfterExit=yes\n\
ExecStart=/usr/bin/hearth load-key %i\n\n\
[Install]\n\
WantedBy=zfs-mount.service\n";

/// The key file of a data pool keyed by a file.
pub fn key_file(pool: &str) -> String {
    format!("{KEY_DIR}/{pool}.key")
}

/// The root pool's encryption, when it has one.
pub fn root_encryption(profile: &Profile) -> Option<&Encryption> {
    profile
        .storage
        .pools
        .iter()
        .find(|p| p.role == PoolRole::Root)
        .and_then(|p| p.encryption.as_ref())
}

pub fn remote_unlock(profile: &Profile) -> bool {
    root_encryption(profile).is_some_and(|e| e.remote_unlock)
}

fn encrypted_data(profile: &Profile) -> impl Iterator<Item = &Pool> {
    profile
        .storage
        .pools
        .iter()
        .filter(|p| p.role == PoolRole::Data && p.encryption.is_some())
}

fn keyed_by_file(profile: &Profile) -> bool {
    encrypted_data(profile).any(|p| {
        p.encryption
            .as_ref()
            .is_some_and(|e| e.key != KeySource::Passphrase)
    })
}

/// What the kernel command line adds so the initramfs has an address for
/// dropbear: DHCP, or the profile's static IPv4 address. None without
/// remote unlock (the initramfs then stays off the network).
pub fn kernel_args(profile: &Profile) -> Option<String> {
    if !remote_unlock(profile) {
        return None;
    }
    let network = &profile.network;
    let device = match network.nic() {
        NicMatch::Name(name) if !name.contains(['*', '?', '[']) => name,
        _ => String::new(),
    };
    let mut args = match (network.addressing, network.address.as_deref()) {
        (Addressing::Static, Some(cidr)) => static_ip(cidr, network.gateway.as_deref(), &device)?,
        _ if device.is_empty() => "ip=dhcp".to_string(),
        _ => format!("ip=:::::{device}:dhcp"),
    };
    if let NicMatch::Mac(mac) = network.nic() {
        // initramfs-tools finds the interface by BOOTIF (01-aa-bb-...).
        args.push_str(&format!(
            " BOOTIF=01-{}",
            mac.to_lowercase().replace(':', "-")
        ));
    }
    Some(args)
}

/// `ip=client::gateway:netmask::device:off`, IPv4 only (what klibc's
/// ipconfig takes).
fn static_ip(cidr: &str, gateway: Option<&str>, device: &str) -> Option<String> {
    let (address, prefix) = cidr.split_once('/')?;
    let address: std::net::Ipv4Addr = address.parse().ok()?;
    let prefix: u32 = prefix.parse().ok().filter(|p| *p <= 32)?;
    let mask = std::net::Ipv4Addr::from(u32::MAX.checked_shl(32 - prefix).unwrap_or(0));
    // An IPv6 gateway's colons would split ip='s fields.
    let gateway = match gateway {
        Some(g) => g.parse::<std::net::Ipv4Addr>().ok()?.to_string(),
        None => String::new(),
    };
    Some(format!("ip={address}::{gateway}:{mask}::{device}:off"))
}

/// Why the initramfs cannot be given the profile's address, if it cannot.
pub fn unreachable_address(profile: &Profile) -> Option<String> {
    (remote_unlock(profile) && kernel_args(profile).is_none()).then(|| {
        "remote unlock needs DHCP or a static IPv4 address: the initramfs's ipconfig takes no IPv6".into()
    })
}

/// root's keys, each limited to the unlock session.
fn authorized_keys(profile: &Profile) -> String {
    let mut out =
        String::from("# Written by the Hearth installer: who may unlock the root pool over SSH.\n");
    for key in &profile.system.root_ssh_keys {
        out.push_str("no-port-forwarding,no-agent-forwarding,no-X11-forwarding ");
        out.push_str(key.trim());
        out.push('\n');
    }
    out
}

pub struct PoolEncryption;

impl Service for PoolEncryption {
    fn packages(&self, profile: &Profile) -> Vec<&'static str> {
        match remote_unlock(profile) {
            true => vec!["dropbear-initramfs"],
            false => Vec::new(),
        }
    }

    fn units(&self, profile: &Profile) -> Vec<String> {
        encrypted_data(profile)
            .map(|p| format!("hearth-load-key@{}.service", p.name))
            .collect()
    }

    fn files(&self, profile: &Profile) -> Vec<File> {
        let mut files = Vec::new();
        if root_encryption(profile).is_some() {
            files.push(File::public(LOAD_KEY_EXTENSION, LOAD_KEY_SCRIPT));
        }
        if encrypted_data(profile).next().is_some() {
            files.push(File::public(LOAD_KEY_UNIT, LOAD_KEY_UNIT_TEXT));
        }
        if remote_unlock(profile) {
            files.push(File::public(
                format!("{DROPBEAR_DIR}/dropbear.conf"),
                DROPBEAR_CONF,
            ));
            files.push(File::private(
                format!("{DROPBEAR_DIR}/authorized_keys"),
                authorized_keys(profile),
            ));
        }
        files
    }

    fn kept(&self, profile: &Profile) -> Vec<Kept> {
        let mut kept = Vec::new();
        if keyed_by_file(profile) {
            kept.push(Kept::new(KEY_DIR, "ZFS encryption keys of the data pools"));
        }
        if remote_unlock(profile) {
            for kind in ["ed25519", "ecdsa", "rsa"] {
                kept.push(Kept::new(
                    format!("{DROPBEAR_DIR}/dropbear_{kind}_host_key"),
                    "SSH host keys of the initramfs (remote unlock)",
                ));
            }
        }
        kept
    }
}

#[cfg(test)]
mod tests;
