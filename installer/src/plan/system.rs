//! Accounts and the small system files written into the target.

use super::{Account, FilePlan};
use crate::password::Password;
use crate::profile::{Addressing, Network, NicMatch, Profile};

/// Written in a network file where the NIC is chosen at install time;
/// the installer puts the MAC of the first NIC with carrier there.
pub const NIC_WITH_LINK: &str = "@mac-of-first-nic-with-link@";

pub fn accounts(profile: &Profile) -> (Vec<Account>, Vec<String>) {
    let system = &profile.system;
    let mut accounts = vec![Account {
        name: "root".into(),
        groups: Vec::new(),
        password: Password::from_profile(&system.root_password),
        ssh_keys: system.root_ssh_keys.clone(),
        samba_nt_hash: None,
    }];
    for user in &system.users {
        accounts.push(Account {
            name: user.name.clone(),
            groups: user.groups.clone(),
            password: Password::from_profile(&user.password),
            ssh_keys: user.ssh_keys.clone(),
            samba_nt_hash: user
                .samba_nt_hash
                .clone()
                .filter(|_| profile.services.samba.is_some()),
        });
    }
    let prompts = accounts
        .iter()
        .filter(|a| a.password == Password::Ask)
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
    let file = |path: &str, content: String| FilePlan::public(path, content);
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
        file("/etc/motd", format!("\nHearth server {fqdn}.\n`hearth status` shows pools, disks, updates, snapshots and backups;\n`hearth alert-test` checks that alerts reach you.\n\n")),
        // agetty shows /etc/issue.d at the console's login prompt.
        file("/etc/issue.d/hearth.issue", format!("Hearth server {fqdn}: log in and run `hearth status` to see its health.\n\n")),
    ];
    for (name, content) in network_files(&profile.network) {
        files.push(file(&format!("/etc/systemd/network/{name}"), content));
    }
    files.extend(crate::services::files(profile));
    files
}

/// systemd-networkd files: the NIC, and a bridge over it when guests need one.
pub fn network_files(network: &Network) -> Vec<(String, String)> {
    let matcher = match network.nic() {
        NicMatch::Name(glob) => format!("Name={glob}"),
        NicMatch::Mac(mac) => format!("MACAddress={mac}"),
        NicMatch::FirstWithLink => format!("MACAddress={NIC_WITH_LINK}"),
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

/// One .link file per NIC, `(mac, ...)` in the order given: nic0, nic1, ...
/// A MAC that is not six colon-separated hex pairs is left out (the
/// kernel's own are; nothing else reaches a file).
pub fn pinned_links(macs: &[String]) -> Vec<(String, String)> {
    macs.iter()
        .filter(|mac| is_mac(mac))
        .enumerate()
        .map(|(i, mac)| {
            (
                format!("10-hearth-nic{i}.link"),
                format!("[Match]\nPermanentMACAddress={mac}\n\n[Link]\nName=nic{i}\n"),
            )
        })
        .collect()
}

pub fn is_mac(text: &str) -> bool {
    let pairs: Vec<&str> = text.split(':').collect();
    pairs.len() == 6
        && pairs
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_nic_is_named_by_its_permanent_mac_and_odd_macs_are_left_out() {
        let macs = vec![
            "52:54:00:aa:00:01".to_string(),
            "52:54:00:aa:00:02\nName=evil".to_string(),
            "52:54:00:aa:00:03".to_string(),
        ];
        let links = pinned_links(&macs);
        assert_eq!(links.len(), 2);
        assert_eq!(links[1].0, "10-hearth-nic1.link");
        assert_eq!(
            links[1].1,
            "[Match]\nPermanentMACAddress=52:54:00:aa:00:03\n\n[Link]\nName=nic1\n"
        );
    }
}
