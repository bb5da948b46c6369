//! base = "proxmox": the Proxmox VE repository beside Debian's, its key
//! downloaded and checked against the profile's SHA-256, and an apt
//! preference so its packages (kernel, zfs, qemu) win over Debian's.
//!
//! The key is written into the sources file itself (deb822 allows an
//! armoured key in Signed-By), so apt trusts it for this repository only,
//! both while mmdebstrap bootstraps and on the installed system.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use base64::Engine;
use hearth_schema::profile::ProxmoxRepo;

use crate::download::{self, Download};

pub const SOURCES: &str = "proxmox.sources";
pub const PREFERENCES: &str = "proxmox.pref";

/// The files laid into the image, as text (part of the base layer's inputs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    pub sources: String,
    pub preferences: String,
}

/// Fetches the key (pinned by SHA-256, cached) and renders the files.
pub fn prepare(repo: &ProxmoxRepo, suite: &str, downloads: &Path) -> Result<Repository> {
    let key = download::fetch(
        downloads,
        &Download {
            url: repo.key_url.clone(),
            sha256: repo.key_sha256.clone(),
        },
    )
    .context("the Proxmox repository key")?;
    let key = fs::read(&key)?;
    Ok(Repository {
        sources: sources(repo, suite, &key),
        preferences: preferences(repo),
    })
}

pub fn sources(repo: &ProxmoxRepo, suite: &str, key: &[u8]) -> String {
    use hearth_services::updates::{signed_by, Key};
    let armored = armor(key);
    format!(
        "# Proxmox VE, configured by Hearth. Key SHA-256: {}\n\
         Types: deb\nURIs: {}\nSuites: {suite}\nComponents: {}\n{}",
        repo.key_sha256,
        repo.url,
        repo.component,
        signed_by(&Key::Armored(&armored))
    )
}

pub fn preferences(repo: &ProxmoxRepo) -> String {
    let host = repo
        .url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default();
    format!(
        "# Packages from the Proxmox VE repository win over Debian's.\n\
         Package: *\nPin: origin \"{host}\"\nPin-Priority: 700\n\n\
         # Proxmox's procedure removes os-prober: update-grub would add other\n\
         # disks' systems (a guest's, say) to the menu. Never installed here.\n\
         Package: os-prober\nPin: version *\nPin-Priority: -1\n\n\
         # ZFS is in Proxmox's kernel: DKMS must never build it beside.\n\
         Package: zfs-dkms\nPin: version *\nPin-Priority: -1\n"
    )
}

/// mmdebstrap options that lay the files in before apt first runs.
pub fn hooks(dir: &Path) -> Vec<String> {
    let at = |name: &str| dir.join(name).display().to_string();
    vec![
        "--setup-hook=mkdir -p \"$1/etc/apt/sources.list.d\" \"$1/etc/apt/preferences.d\"".into(),
        format!(
            "--setup-hook=copy-in {} /etc/apt/sources.list.d/",
            at(SOURCES)
        ),
        format!(
            "--setup-hook=copy-in {} /etc/apt/preferences.d/",
            at(PREFERENCES)
        ),
    ]
}

impl Repository {
    pub fn write(&self, dir: &Path) -> Result<()> {
        fs::create_dir_all(dir)?;
        fs::write(dir.join(SOURCES), &self.sources)?;
        fs::write(dir.join(PREFERENCES), &self.preferences)?;
        Ok(())
    }
}

/// OpenPGP ASCII armour (RFC 4880, section 6): base64 in 64-column lines
/// and a CRC-24 checksum.
pub fn armor(data: &[u8]) -> String {
    let engine = base64::engine::general_purpose::STANDARD;
    let body = engine.encode(data);
    let mut out = String::from("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n");
    for chunk in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    let crc = crc24(data).to_be_bytes();
    out.push('=');
    out.push_str(&engine.encode(&crc[1..]));
    out.push_str("\n-----END PGP PUBLIC KEY BLOCK-----\n");
    out
}

fn crc24(data: &[u8]) -> u32 {
    let mut crc: u32 = 0x00B7_04CE;
    for byte in data {
        crc ^= u32::from(*byte) << 16;
        for _ in 0..8 {
            crc <<= 1;
            if crc & 0x0100_0000 != 0 {
                crc ^= 0x0186_4CFB;
            }
        }
    }
    crc & 0x00FF_FFFF
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> ProxmoxRepo {
        ProxmoxRepo {
            url: "http://download.proxmox.com/debian/pve".into(),
            component: "pve-no-subscription".into(),
            key_url: "https://enterprise.proxmox.com/debian/k.gpg".into(),
            key_sha256: "ab".repeat(32),
        }
    }

    #[test]
    fn the_sources_file_carries_the_armoured_key_as_deb822_continuation_lines() {
        let text = sources(&repo(), "trixie", b"key bytes");
        assert!(text.contains("URIs: http://download.proxmox.com/debian/pve\n"));
        assert!(text.contains("Suites: trixie\nComponents: pve-no-subscription\n"));
        assert!(text.contains("Signed-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n"));
        assert!(text.ends_with(" -----END PGP PUBLIC KEY BLOCK-----\n"));
        assert!(text.lines().skip(6).all(|l| l.starts_with(' ')));
    }

    #[test]
    fn the_preference_pins_the_repository_host() {
        let text = preferences(&repo());
        assert!(text.contains("Pin: origin \"download.proxmox.com\"\nPin-Priority: 700\n"));
        assert!(text.contains("Package: os-prober\nPin: version *\nPin-Priority: -1\n"));
        assert!(text.contains("Package: zfs-dkms\nPin: version *\nPin-Priority: -1\n"));
    }

    #[test]
    fn gpg_reads_the_armour_back_to_the_same_bytes() {
        if !crate::host::on_path("gpg") {
            eprintln!("SKIP: gpg is not installed");
            return;
        }
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let dir = std::env::temp_dir().join(format!("hearth-armor-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("temp dir");
        let armored = dir.join("key.asc");
        fs::write(&armored, armor(&data)).expect("write");
        let out = std::process::Command::new("gpg")
            .args(["--batch", "--dearmor", "--output", "-"])
            .arg(&armored)
            .output()
            .expect("gpg runs");
        fs::remove_dir_all(&dir).expect("cleanup");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, data);
    }

    #[test]
    fn crc24_matches_the_rfc_reference_values() {
        // The CRC of no data is the initial value; "123456789" is the
        // standard check input for CRC-24/OPENPGP.
        assert_eq!(crc24(b""), 0x00B7_04CE);
        assert_eq!(crc24(b"123456789"), 0x0021_CF02);
    }
}
