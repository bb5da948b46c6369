//! The accounts a profile names that the target must already have: the
//! users' supplementary groups, and the system accounts a service user
//! must never be.

use hearth_schema::validate::checks::{list, Findings};

use crate::keypath::KeyPath;
use crate::profile::Profile;

/// Groups of a Debian trixie base system (base-passwd, systemd).
const BASE_GROUPS: &[&str] = &[
    "adm",
    "audio",
    "backup",
    "cdrom",
    "dialout",
    "dip",
    "disk",
    "floppy",
    "games",
    "input",
    "kmem",
    "kvm",
    "lp",
    "mail",
    "netdev",
    "operator",
    "plugdev",
    "render",
    "sgx",
    "staff",
    "sudo",
    "systemd-journal",
    "tape",
    "users",
    "video",
    "voice",
    "www-data",
];

/// Groups a package of the profile adds.
const PACKAGE_GROUPS: &[(&str, &[&str])] = &[
    ("docker.io", &["docker"]),
    ("incus", &["incus", "incus-admin"]),
    ("samba", &["sambashare"]),
];

/// Accounts of the base system and of Hearth's packages: a service user
/// named like one would take it over.
const SYSTEM_USERS: &[&str] = &[
    "root",
    "daemon",
    "bin",
    "sys",
    "sync",
    "games",
    "man",
    "lp",
    "mail",
    "news",
    "uucp",
    "proxy",
    "www-data",
    "backup",
    "list",
    "irc",
    "gnats",
    "nobody",
    "sshd",
    "messagebus",
    "avahi",
    "statd",
    "dnsmasq",
    "tss",
    "polkitd",
    "uuidd",
    "tcpdump",
    crate::rest_server::USER,
];

pub const SYSTEM_USER_RULE: &str = "is an account of the system; a service user must be new: not root, not one of the base system's or its packages' accounts (sshd, messagebus, ...), not starting with _ or systemd-";

/// Whether `name` is, or could be, an account the system owns.
pub fn is_system_user(name: &str) -> bool {
    SYSTEM_USERS.contains(&name) || name.starts_with('_') || name.starts_with("systemd-")
}

/// The groups the target has once the profile's packages are in.
pub fn groups(profile: &Profile) -> Vec<&'static str> {
    let packages = crate::packages(profile);
    let mut groups: Vec<&'static str> = BASE_GROUPS.to_vec();
    for (package, added) in PACKAGE_GROUPS {
        if packages.iter().any(|p| p == package) {
            groups.extend(added.iter());
        }
    }
    groups.sort_unstable();
    groups
}

/// Every user's groups exist on the target: an unknown one is an error
/// here, not a group silently dropped at install (an admin without sudo).
pub fn check(out: &mut Findings, profile: &Profile) {
    let known = groups(profile);
    let at = KeyPath::root().key("system").key("users");
    for (i, user) in profile.system.users.iter().enumerate() {
        for (j, group) in user.groups.iter().enumerate() {
            if !known.contains(&group.as_str()) {
                out.push(
                    at.index(i).key("groups").index(j),
                    format!(
                        "no group `{group}` on the installed system with this profile's services; allowed: {}",
                        list(&known)
                    ),
                );
            }
        }
    }
}
