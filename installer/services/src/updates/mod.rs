//! Updates: the apt sources (deb822) of the suite, its updates and its
//! security archive, and unattended-upgrades with the profile's policy.
//! The image builder writes the same sources for the mirrors it built
//! from; a profile or answer that names other mirrors replaces them.

use crate::profile::{AutomaticUpdates, Profile, Updates};
use crate::{File, Service};

pub const MAIN: &str = "/etc/apt/sources.list.d/debian.sources";
pub const SECURITY: &str = "/etc/apt/sources.list.d/debian-security.sources";
pub const PERIODIC: &str = "/etc/apt/apt.conf.d/20auto-upgrades";
pub const POLICY: &str = "/etc/apt/apt.conf.d/52hearth-unattended-upgrades";
pub const DEBIAN_KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";
pub const DEFAULT_MIRROR: &str = "http://deb.debian.org/debian";
pub const DEFAULT_SECURITY: &str = "http://deb.debian.org/debian-security";
const COMPONENTS: &str = "main contrib non-free-firmware";

/// Where a source's signing key is: Debian's keyring, or a key given
/// inline (deb822 continuation lines; an empty line is written " .").
pub enum Key<'a> {
    DebianKeyring,
    Armored(&'a str),
}

pub fn signed_by(key: &Key) -> String {
    match key {
        Key::DebianKeyring => format!("Signed-By: {DEBIAN_KEYRING}\n"),
        Key::Armored(text) => {
            let mut out = String::from("Signed-By:\n");
            for line in text.trim().lines() {
                let line = line.trim_end();
                out.push(' ');
                out.push_str(if line.is_empty() { "." } else { line });
                out.push('\n');
            }
            out
        }
    }
}

/// The suite and its stable updates.
pub fn main_sources(mirror: &str, suite: &str, key: &Key) -> String {
    format!(
        "# Debian {suite} and its stable updates (Hearth).\n\
         Types: deb\nURIs: {mirror}\nSuites: {suite} {suite}-updates\nComponents: {COMPONENTS}\n{}",
        signed_by(key)
    )
}

/// The suite's security archive.
pub fn security_sources(mirror: &str, suite: &str, key: &Key) -> String {
    format!(
        "# Debian {suite} security updates (Hearth).\n\
         Types: deb\nURIs: {mirror}\nSuites: {suite}-security\nComponents: {COMPONENTS}\n{}",
        signed_by(key)
    )
}

pub fn periodic(updates: &Updates) -> String {
    let on = u8::from(updates.automatic != AutomaticUpdates::Off);
    format!(
        "// Written by the Hearth installer from [updates].\n\
         APT::Periodic::Update-Package-Lists \"1\";\n\
         APT::Periodic::Unattended-Upgrade \"{on}\";\n\
         APT::Periodic::AutocleanInterval \"7\";\n"
    )
}

/// Which origins unattended-upgrades installs from, replacing Debian's
/// default list (`#clear`), and when it may restart the server.
pub fn policy(updates: &Updates) -> String {
    let mut origins =
        vec!["origin=Debian,codename=${distro_codename}-security,label=Debian-Security"];
    if updates.automatic == AutomaticUpdates::Stable {
        origins.push("origin=Debian,codename=${distro_codename},label=Debian");
        origins.push("origin=Debian,codename=${distro_codename}-updates");
    }
    let mut out = String::from(
        "// Written by the Hearth installer from [updates].\n#clear Unattended-Upgrade::Origins-Pattern;\nUnattended-Upgrade::Origins-Pattern {\n",
    );
    for origin in origins {
        out.push_str(&format!("\t\"{origin}\";\n"));
    }
    out.push_str("};\n");
    match updates.reboot.as_str() {
        "never" => out.push_str("Unattended-Upgrade::Automatic-Reboot \"false\";\n"),
        time => out.push_str(&format!(
            "Unattended-Upgrade::Automatic-Reboot \"true\";\nUnattended-Upgrade::Automatic-Reboot-Time \"{time}\";\n"
        )),
    }
    out
}

pub struct AptUpdates;

impl Service for AptUpdates {
    fn units(&self, _profile: &Profile) -> Vec<String> {
        ["apt-daily.timer", "apt-daily-upgrade.timer"]
            .map(String::from)
            .to_vec()
    }

    fn files(&self, profile: &Profile) -> Vec<File> {
        let updates = &profile.updates;
        let key = match &updates.signed_by {
            Some(text) => Key::Armored(text),
            None => Key::DebianKeyring,
        };
        let mut files = vec![
            File::public(PERIODIC, periodic(updates)),
            File::public(POLICY, policy(updates)),
        ];
        if let Some(mirror) = &updates.mirror {
            files.push(File::public(
                MAIN,
                main_sources(mirror, &profile.suite, &key),
            ));
        }
        if let Some(mirror) = &updates.security_mirror {
            files.push(File::public(
                SECURITY,
                security_sources(mirror, &profile.suite, &key),
            ));
        }
        files
    }
}
