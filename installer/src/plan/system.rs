//! Accounts and the small system files written into the target.

use std::path::PathBuf;

use super::{Account, FilePlan};
use crate::profile::{Addressing, Network, Profile, RootLogin};

/// Written in a network file where the NIC is chosen at install time;
/// the installer puts the MAC of the first NIC with carrier there.
pub const NIC_WITH_LINK: &str = "@mac-of-first-nic-with-link@";

pub fn accounts(profile: &Profile) -> (Vec<Account>, Vec<String>) {
    let system = &profile.system;
    let mut accounts = vec![Account {
        name: "root".into(),
        groups: Vec::new(),
        password: system.root_password.clone(),
        ssh_keys: system.root_ssh_keys.clone(),
        samba_nt_hash: None,
    }];
    for user in &system.users {
        accounts.push(Account {
            name: user.name.clone(),
            groups: user.groups.clone(),
            password: user.password.clone(),
            ssh_keys: user.ssh_keys.clone(),
            samba_nt_hash: user
                .samba_nt_hash
                .clone()
                .filter(|_| profile.services.samba.is_some()),
        });
    }
    let prompts = accounts
        .iter()
        .filter(|a| a.password == "ask")
        .map(|a| {
            format!(
                "password of {} (typed twice, stored as a SHA-512 crypt hash)",
                a.name
            )
        })
        .collect();
    (accounts, prompts)
}

pub fn files(profile: &Profile) -> Vec<FilePlan> {
    let system = &profile.system;
    let file = |path: &str, content: String| FilePlan {
        path: PathBuf::from(path),
        mode: "0644".into(),
        content,
    };
    let fqdn = format!("{}.{}", system.hostname, system.domain);
    let mut files = vec![
        file("/etc/hostname", format!("{}\n", system.hostname)),
        file(
            "/etc/hosts",
            format!(
                "127.0.0.1\tlocalhost\n127.0.1.1\t{fqdn} {}\n::1\tlocalhost ip6-localhost ip6-loopback\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
                system.hostname
            ),
        ),
        file("/etc/default/locale", format!("LANG={}\n", system.locale)),
        file(
            "/etc/default/keyboard",
            format!("XKBMODEL=\"pc105\"\nXKBLAYOUT=\"{}\"\nXKBVARIANT=\"\"\nXKBOPTIONS=\"\"\nBACKSPACE=\"guess\"\n", system.keymap),
        ),
        file("/etc/timezone", format!("{}\n", system.timezone)),
        file("/etc/ssh/sshd_config.d/hearth.conf", sshd(profile)),
    ];
    for (name, content) in network_files(&profile.network) {
        files.push(file(&format!("/etc/systemd/network/{name}"), content));
    }
    if let Some(nfs) = &profile.services.nfs {
        files.push(file(
            crate::services::nfs::PATH,
            crate::services::nfs::exports(nfs),
        ));
        files.push(file(
            crate::services::nfs::CONF,
            crate::services::nfs::nfs_conf(),
        ));
    }
    if let Some(samba) = &profile.services.samba {
        files.push(file(
            crate::services::samba::PATH,
            crate::services::samba::smb_conf(samba, &system.hostname),
        ));
    }
    if let Some(rest) = profile
        .services
        .backup_target
        .as_ref()
        .and_then(|t| t.rest_server.as_ref())
    {
        use crate::services::rest_server;
        let path = rest_server::served_path(profile, rest);
        files.push(file(rest_server::UNIT, rest_server::unit(rest, &path)));
    }
    if let Some(syncthing) = &profile.services.syncthing {
        use crate::services::syncthing as st;
        for user in &syncthing.users {
            files.push(file(
                &st::drop_in_path(&user.name),
                st::drop_in(syncthing, user),
            ));
        }
    }
    if profile.services.docker.is_some() {
        // /var/lib/docker is a ZFS dataset, where overlayfs cannot keep its
        // upper layers: Docker's zfs driver makes each layer a dataset.
        files.push(file(
            "/etc/docker/daemon.json",
            "{\n  \"storage-driver\": \"zfs\"\n}\n".into(),
        ));
    }
    if let Some(docker) = profile
        .services
        .docker
        .as_ref()
        .filter(|d| !d.apps.is_empty())
    {
        use crate::services::guests;
        files.push(file(guests::COMPOSE_UNIT, guests::compose_unit()));
        for (path, text) in docker.apps.iter().filter_map(guests::compose_drop_in) {
            files.push(file(&path, text));
        }
    }
    if let Some(backup) = &profile.services.cloud_backup {
        use crate::services::restic;
        files.push(FilePlan {
            path: restic::ENV.into(),
            mode: "0600".into(),
            content: restic::env(backup),
        });
        files.push(file(restic::SERVICE, restic::service(backup)));
        files.push(file(restic::TIMER, restic::timer(backup)));
    }
    if let Some(snapshots) = &profile.services.snapshots {
        files.push(file(
            crate::services::sanoid::PATH,
            crate::services::sanoid::sanoid_conf(snapshots),
        ));
    }
    for (i, job) in profile.services.replication.iter().enumerate() {
        use crate::services::syncoid;
        files.push(file(&syncoid::service_path(i), syncoid::service(job)));
        files.push(file(&syncoid::timer_path(i), syncoid::timer(job)));
    }
    if let Some(wg) = &profile.services.wireguard {
        use crate::services::wireguard;
        files.push(FilePlan {
            path: wireguard::CONFIG.into(),
            mode: "0600".into(),
            content: wireguard::server_conf(wg),
        });
        files.push(file(wireguard::SYSCTL, wireguard::SYSCTL_CONF.into()));
        files.push(file(wireguard::DROP_IN, wireguard::DROP_IN_CONF.into()));
    }
    if profile.services.firewall.enabled {
        files.push(file(
            crate::services::firewall::PATH,
            crate::services::firewall::nftables_conf(profile),
        ));
        files.push(file(
            crate::services::firewall::DROP_IN,
            crate::services::firewall::STOP_DROP_IN.into(),
        ));
    }
    files
}

fn sshd(profile: &Profile) -> String {
    let root = match profile.system.root_login {
        RootLogin::Disabled => "no",
        RootLogin::KeyOnly => "prohibit-password",
        RootLogin::Password => "yes",
    };
    let ssh = &profile.services.ssh;
    let passwords = if ssh.password_authentication {
        "yes"
    } else {
        "no"
    };
    format!("# Written by the Hearth installer from the profile.\nPort {}\nPermitRootLogin {root}\nPasswordAuthentication {passwords}\nKbdInteractiveAuthentication no\n", ssh.port)
}

/// systemd-networkd files: the NIC, and a bridge over it when guests need one.
pub fn network_files(network: &Network) -> Vec<(String, String)> {
    let matcher = match network.interface.split_once(':') {
        Some(("name", glob)) => format!("Name={glob}"),
        Some(("mac", mac)) => format!("MACAddress={mac}"),
        _ => format!("MACAddress={NIC_WITH_LINK}"),
    };
    let mut addressing = match network.addressing {
        Addressing::Dhcp => "DHCP=yes\n".to_string(),
        Addressing::Static => format!(
            "Address={}\nGateway={}\n",
            network.address.as_deref().unwrap_or_default(),
            network.gateway.as_deref().unwrap_or_default()
        ),
    };
    for dns in &network.dns {
        addressing.push_str(&format!("DNS={dns}\n"));
    }
    match &network.bridge {
        None => vec![(
            "30-lan.network".into(),
            format!("[Match]\n{matcher}\n\n[Network]\n{addressing}"),
        )],
        Some(bridge) => vec![
            (
                format!("20-{bridge}.netdev"),
                format!("[NetDev]\nName={bridge}\nKind=bridge\n"),
            ),
            (
                "30-uplink.network".into(),
                format!("[Match]\n{matcher}\n\n[Network]\nBridge={bridge}\n"),
            ),
            (
                format!("40-{bridge}.network"),
                format!("[Match]\nName={bridge}\n\n[Network]\n{addressing}"),
            ),
        ],
    }
}
