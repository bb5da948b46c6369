//! Checks serde cannot make. Pure: each returns every finding, located by
//! key path; the loader turns them into file:line:column messages.

pub mod calendar;
pub mod care;
pub mod checks;
mod storage;
pub mod text;

pub use checks::{is_cidr, is_crypt_hash, is_hostname, is_ssh_key, HOSTNAME_RULE};
pub use storage::PASSPHRASE_LEN;

use crate::answer::Answer;
use crate::keypath::KeyPath;
use crate::profile::{Addressing, Base, Network, Profile, RootLogin};
pub use checks::Findings;

/// One problem, at a key of the checked document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub key: KeyPath,
    pub message: String,
}

pub fn profile(profile: &Profile) -> Vec<Finding> {
    let mut out = Findings::default();
    let top = KeyPath::root();
    if !checks::is_name(&profile.name) {
        out.push(
            top.key("name"),
            "must be lowercase letters, digits and dashes",
        );
    }
    if profile.suite != "trixie" {
        out.push(
            top.key("suite"),
            format!("`{}` is not supported; allowed: trixie", profile.suite),
        );
    }
    system(&mut out, profile);
    network(&mut out, &top.key("network"), &profile.network);
    storage::check(&mut out, profile);
    care::profile(&mut out, profile);
    proxmox(&mut out, profile);
    out.0
}

fn proxmox(out: &mut Findings, profile: &Profile) {
    let top = KeyPath::root();
    match (&profile.base, &profile.proxmox) {
        (Base::Proxmox, None) => out.push(
            top.key("base"),
            "base = \"proxmox\" needs a [proxmox] section with key-sha256, the SHA-256 of the repository key",
        ),
        (Base::Debian, Some(_)) => out.push(
            top.key("proxmox"),
            "[proxmox] is only used with base = \"proxmox\"",
        ),
        (Base::Proxmox, Some(repo)) => {
            let key = top.key("proxmox");
            if !checks::is_sha256(&repo.key_sha256) {
                out.push(key.key("key-sha256"), "must be 64 hexadecimal digits");
            }
            for (name, url) in [("url", &repo.url), ("key-url", &repo.key_url)] {
                if !text::is_http_url(url) {
                    out.push(key.key(name), "must be an http:// or https:// URL of a host name or address, without spaces or quotes");
                }
            }
            if !["pve-no-subscription", "pve-enterprise", "pve-test"]
                .contains(&repo.component.as_str())
            {
                out.push(
                    key.key("component"),
                    "allowed: pve-no-subscription, pve-enterprise, pve-test",
                );
            }
        }
        (Base::Debian, None) => {}
    }
    if profile.base == Base::Proxmox && profile.suite != "trixie" {
        out.push(top.key("base"), "Proxmox VE 9 is built on trixie");
    }
}

fn system(out: &mut Findings, profile: &Profile) {
    let key = KeyPath::root().key("system");
    let system = &profile.system;
    if !checks::is_hostname(&system.hostname) {
        out.push(key.key("hostname"), checks::HOSTNAME_RULE);
    }
    if !text::is_domain(&system.domain) {
        out.push(key.key("domain"), text::DOMAIN_RULE);
    }
    if !text::is_keymap(&system.keymap) {
        out.push(key.key("keymap"), text::KEYMAP_RULE);
    }
    if !checks::is_timezone(&system.timezone) {
        out.push(
            key.key("timezone"),
            "must be an IANA zone such as Europe/Brussels or Etc/UTC",
        );
    }
    if !checks::is_locale(&system.locale) {
        out.push(
            key.key("locale"),
            "must be a UTF-8 locale such as en_US.UTF-8 or C.UTF-8",
        );
    }
    checks::password(out, key.key("root-password"), &system.root_password);
    checks::ssh_keys(out, key.key("root-ssh-keys"), &system.root_ssh_keys);
    if system.root_login == RootLogin::Password && system.root_password == "locked" {
        out.push(
            key.key("root-login"),
            "root-login = \"password\" needs a root-password that is not \"locked\"",
        );
    }
    let mut seen = Vec::new();
    for (i, user) in system.users.iter().enumerate() {
        let at = key.key("users").index(i);
        if !checks::is_username(&user.name) {
            out.push(at.key("name"), "must start with a lowercase letter and hold lowercase letters, digits, - or _ (at most 32)");
        } else if user.name == "root" {
            out.push(
                at.key("name"),
                "root is configured with root-password and root-ssh-keys",
            );
        } else if seen.contains(&user.name.as_str()) {
            out.push(
                at.key("name"),
                format!("user `{}` is defined twice", user.name),
            );
        }
        seen.push(user.name.as_str());
        checks::password(out, at.key("password"), &user.password);
        checks::ssh_keys(out, at.key("ssh-keys"), &user.ssh_keys);
    }
}

fn network(out: &mut Findings, key: &KeyPath, network: &Network) {
    if !checks::is_interface_match(&network.interface) {
        out.push(
            key.key("interface"),
            "allowed: \"first-with-link\", \"name:<glob>\" or \"mac:<aa:bb:cc:dd:ee:ff>\"",
        );
    }
    let named = network.interface.strip_prefix("name:");
    if network.pin_names && named.is_some_and(|glob| !glob.starts_with("nic")) {
        out.push(
            key.key("interface"),
            "with pin-names the NICs are named nic0, nic1, ...; allowed: \"first-with-link\", \"mac:<address>\" or \"name:nic<N>\"",
        );
    }
    match network.addressing {
        Addressing::Static => {
            match &network.address {
                None => out.push(
                    key.key("addressing"),
                    "static addressing needs `address` (e.g. \"192.168.1.10/24\")",
                ),
                Some(a) if !checks::is_cidr(a) => out.push(
                    key.key("address"),
                    format!("`{a}` is not an address with prefix such as 192.168.1.10/24"),
                ),
                Some(_) => {}
            }
            match &network.gateway {
                None => out.push(key.key("addressing"), "static addressing needs `gateway`"),
                Some(g) if g.parse::<std::net::IpAddr>().is_err() => {
                    out.push(key.key("gateway"), format!("`{g}` is not an IP address"))
                }
                Some(_) => {}
            }
        }
        Addressing::Dhcp => {
            if network.address.is_some() || network.gateway.is_some() {
                out.push(
                    key.key("addressing"),
                    "address and gateway are only used with addressing = \"static\"",
                );
            }
        }
    }
    for (i, dns) in network.dns.iter().enumerate() {
        if dns.parse::<std::net::IpAddr>().is_err() {
            out.push(
                key.key("dns").index(i),
                format!("`{dns}` is not an IP address"),
            );
        }
    }
    if let Some(bridge) = &network.bridge {
        if !checks::is_ifname(bridge) {
            out.push(
                key.key("bridge"),
                "must be an interface name of 1 to 15 letters, digits, - or _",
            );
        }
    }
}

/// The kit: a file name or a URL, a digest an http:// URL needs, and the
/// passphrase an unattended install cannot ask for.
fn recovery_kit(out: &mut Findings, answer: &Answer) {
    let top = KeyPath::root();
    let Some(kit) = &answer.recovery_kit else {
        for (key, given) in [
            ("recovery-kit-sha256", answer.recovery_kit_sha256.is_some()),
            (
                "recovery-kit-passphrase",
                answer.recovery_kit_passphrase.is_some(),
            ),
        ] {
            if given {
                out.push(top.key(key), "given without recovery-kit");
            }
        }
        return;
    };
    let is_name = !kit.is_empty()
        && kit.len() <= 255
        && !kit.starts_with('.')
        && kit
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if !is_name && !text::is_http_url(kit) {
        out.push(
            top.key("recovery-kit"),
            "must be a file name beside the answer (letters, digits, . _ -) or an http(s):// URL",
        );
    }
    let sha = answer.recovery_kit_sha256.as_deref();
    if let Some(sha) = sha {
        if sha.len() != 64 || !sha.chars().all(|c| c.is_ascii_hexdigit()) {
            out.push(top.key("recovery-kit-sha256"), "must be 64 hex digits");
        }
    } else if kit.starts_with("http://") {
        out.push(
            top.key("recovery-kit"),
            "an http:// kit needs recovery-kit-sha256 (or use https://)",
        );
    }
    if answer
        .recovery_kit_passphrase
        .as_deref()
        .unwrap_or("")
        .is_empty()
    {
        out.push(
            top.key("recovery-kit-passphrase"),
            "an install from a recovery kit needs the kit's passphrase",
        );
    }
}

/// Checks an answer file against the profile it completes.
pub fn answer(answer: &Answer, profile: &Profile) -> Vec<Finding> {
    let mut out = Findings::default();
    let top = KeyPath::root();
    if let Some(hostname) = &answer.hostname {
        if !checks::is_hostname(hostname) {
            out.push(top.key("hostname"), checks::HOSTNAME_RULE);
        }
    }
    if let Some(domain) = &answer.domain {
        if !text::is_domain(domain) {
            out.push(top.key("domain"), text::DOMAIN_RULE);
        }
    }
    if let Some(keymap) = &answer.keymap {
        if !text::is_keymap(keymap) {
            out.push(top.key("keymap"), text::KEYMAP_RULE);
        }
    }
    if let Some(repository) = &answer.cloud_backup_repository {
        if !text::is_repository(repository) {
            out.push(top.key("cloud-backup-repository"), text::REPOSITORY_RULE);
        }
    }
    recovery_kit(&mut out, answer);
    if let Some(timezone) = &answer.timezone {
        if !checks::is_timezone(timezone) {
            out.push(
                top.key("timezone"),
                "must be an IANA zone such as Europe/Brussels or Etc/UTC",
            );
        }
    }
    if let Some(hash) = &answer.root_password {
        checks::hash_only(&mut out, top.key("root-password"), hash);
        if hash == "locked" && profile.system.root_login == RootLogin::Password {
            out.push(
                top.key("root-password"),
                "the profile's root-login = \"password\" needs a password; allowed: a crypt hash",
            );
        }
    }
    if let Some(hash) = &answer.mok_password_hash {
        if !hash.starts_with("$6$") || !checks::is_crypt_hash(hash) {
            out.push(
                top.key("mok-password-hash"),
                "must be a SHA-512 crypt hash ($6$...), made with `mokutil --generate-hash` or `mkpasswd -m sha-512`: MokManager checks the password against it",
            );
        }
    }
    checks::ssh_keys(&mut out, top.key("root-ssh-keys"), &answer.root_ssh_keys);
    answer_users(&mut out, answer, profile);
    checks::ssh_keys(
        &mut out,
        top.key("zfs-receive-ssh-keys"),
        &answer.zfs_receive_ssh_keys,
    );
    let receives = profile
        .services
        .backup_target
        .as_ref()
        .is_some_and(|t| t.zfs_receive.is_some());
    if !answer.zfs_receive_ssh_keys.is_empty() && !receives {
        out.push(
            top.key("zfs-receive-ssh-keys"),
            format!(
                "profile `{}` has no [services.backup-target.zfs-receive] user",
                profile.name
            ),
        );
    }
    if let Some(net) = &answer.network {
        network(&mut out, &top.key("network"), net);
    }
    storage::answer_pools(&mut out, answer, profile);
    care::answer(&mut out, answer, profile);
    out.0
}

/// The answer's users: each one the profile's, with hashes only.
fn answer_users(out: &mut Findings, answer: &Answer, profile: &Profile) {
    let top = KeyPath::root();
    let users: Vec<&str> = profile
        .system
        .users
        .iter()
        .map(|u| u.name.as_str())
        .collect();
    for (name, user) in &answer.users {
        let at = top.key("users").key(name.clone());
        if !users.contains(&name.as_str()) {
            out.push(
                at.clone(),
                format!(
                    "no user `{name}` in profile `{}`; allowed: {}",
                    profile.name,
                    checks::list(&users)
                ),
            );
        }
        if let Some(hash) = &user.password {
            checks::hash_only(out, at.key("password"), hash);
        }
        checks::ssh_keys(out, at.key("ssh-keys"), &user.ssh_keys);
        if let Some(nt) = &user.samba_nt_hash {
            if nt.len() != 32 || !nt.chars().all(|c| c.is_ascii_hexdigit()) {
                out.push(
                    at.key("samba-nt-hash"),
                    "must be the NT hash: 32 hex digits, as `hearth hash-password` prints it"
                        .to_string(),
                );
            }
            if profile.services.samba.is_none() {
                out.push(
                    at.key("samba-nt-hash"),
                    format!("profile `{}` has no Samba shares to use it", profile.name),
                );
            }
        }
    }
}
