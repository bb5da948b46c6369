//! A profile's test machine, derived from the profile itself: as many
//! blank disks as its pools (and their special, log, cache and spare vdevs)
//! ask for, of the kind, size, serial and model their filters take; and an
//! answer with the test's key and a password for every user asked for one.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{bail, Result};
use hearth_schema::profile::{DiskFilter, DiskKind, KeySource, Profile, Transport};

use crate::machine::{Bus, Disk};

/// The admin password of every test answer ("hearth-test"), as a crypt hash.
pub const ADMIN_HASH: &str = "$6$hearthfixture$IxW2YQ0gV1rMF7I/02h7yo9zfZKn5OEJETbpAPtpDwSkZo7FujFeoGSNYMFwLY2AkQvfS9.DVQDaq8lmNbjtr0";
/// The passphrase test answers give pools with key = "passphrase".
pub const PASSPHRASE: &str = "hearth-test-passphrase";

/// A shipped profile, by name, loaded and merged.
pub fn load_profile(name: &str) -> Result<Profile> {
    let path = image_builder::build::default_workspace()
        .join("profiles")
        .join(format!("{name}.toml"));
    let loaded = hearth_schema::load::profile_with(&path, |_| Vec::new())
        .map_err(|p| anyhow::anyhow!("{p}"))?;
    Ok(loaded.value)
}

/// An answer with the test's key, a password for every user who is asked
/// for one, a passphrase for every pool that takes one, and `after`
/// (reboot, poweroff or stay).
pub fn answer_text(profile: &Profile, hostname: &str, public: &str, after: &str) -> String {
    answer_with(profile, hostname, public, after, ("", ""))
}

/// As `answer_text`, with `extra`: (top-level lines, lines for every user).
pub fn answer_with(
    profile: &Profile,
    hostname: &str,
    public: &str,
    after: &str,
    extra: (&str, &str),
) -> String {
    let (top, each_user) = extra;
    let mut text = format!(
        "profile = \"{}\"\nhostname = \"{hostname}\"\nroot-ssh-keys = [\"{public}\"]\nafter-install = \"{after}\"\n{top}",
        profile.name
    );
    for user in &profile.system.users {
        let _ = write!(
            text,
            "\n[users.{}]\npassword = \"{ADMIN_HASH}\"\nssh-keys = [\"{public}\"]\n{each_user}",
            user.name
        );
    }
    for pool in &profile.storage.pools {
        let asks = pool
            .encryption
            .as_ref()
            .is_some_and(|e| e.key == KeySource::Passphrase);
        if asks {
            let _ = write!(
                text,
                "\n[pools.{}]\npassphrase = \"{PASSPHRASE}\"\n",
                pool.name
            );
        }
    }
    text
}

/// The service checks by name (qemu-tests/tests/services), for a
/// sidecar's `[skip]`.
pub const CHECKS: &[&str] = &[
    "snapshots",
    "samba",
    "firewall",
    "web-ui",
    "rest-server",
    "cloud-backup",
    "zfs-receive",
    "replication",
    "syncthing",
    "nfs",
    "docker",
    "incus",
    "wireguard",
];

/// What a `<name>.test.toml` beside a profile or layout says of its test
/// machine and checks: `medium = "cd" | "usb"`, `sector = 512 | 4096` and
/// `[skip]`, a service check left out with the reason (`nfs = "exports to
/// a network QEMU cannot give the host"`).
#[derive(Debug, Default)]
pub struct Sidecar {
    pub usb: bool,
    pub sector: u32,
    pub skip: std::collections::BTreeMap<String, String>,
}

/// The sidecar of `profile_path` (foo.toml: foo.test.toml), or the defaults.
pub fn sidecar(profile_path: &Path, checks: &[&str]) -> Result<Sidecar> {
    let path = profile_path.with_extension("test.toml");
    let mut sidecar = Sidecar {
        sector: 512,
        ..Sidecar::default()
    };
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(sidecar);
    };
    let table: toml::Table =
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    for (key, value) in &table {
        let bad = || anyhow::anyhow!("{}: {key}: unexpected value {value}", path.display());
        match key.as_str() {
            "medium" => {
                sidecar.usb = ["usb", "cd"]
                    .iter()
                    .position(|m| value.as_str() == Some(m))
                    .ok_or_else(bad)?
                    == 0
            }
            "sector" => {
                sidecar.sector = value
                    .as_integer()
                    .filter(|s| [512, 4096].contains(s))
                    .ok_or_else(bad)? as u32
            }
            "skip" => {
                for (check, why) in value.as_table().ok_or_else(bad)? {
                    if !checks.contains(&check.as_str()) {
                        bail!(
                            "{}: skip.{check}: no such check; allowed: {}",
                            path.display(),
                            checks.join(", ")
                        );
                    }
                    let why = why
                        .as_str()
                        .filter(|w| !w.trim().is_empty())
                        .ok_or_else(bad)?;
                    sidecar.skip.insert(check.clone(), why.to_string());
                }
            }
            _ => bail!(
                "{}: {key}: unknown key; allowed: medium, sector, skip",
                path.display()
            ),
        }
    }
    Ok(sidecar)
}

/// The test machine's network: QEMU's default (10.0.2.0/24) when it lies
/// in the profile's LAN and every NFS export's clients, else the first /24
/// of their networks that does; None keeps the default.
pub fn network(profile: &Profile) -> Option<String> {
    let services = &profile.services;
    let lan: &[String] = if services.firewall.enabled {
        &services.firewall.lan
    } else {
        &[]
    };
    let exports = services.nfs.iter().flat_map(|n| &n.exports);
    let fits = |net: (u32, u8)| {
        (lan.is_empty() || lan.iter().any(|l| within(net, l)))
            && exports
                .clone()
                .all(|e| e.clients.iter().any(|c| c == "*" || within(net, c)))
    };
    let default = (u32::from(std::net::Ipv4Addr::new(10, 0, 2, 0)), 24);
    if fits(default) {
        return None;
    }
    let candidates = lan
        .iter()
        .chain(exports.clone().flat_map(|e| &e.clients))
        .filter_map(|c| cidr(c))
        .filter(|(_, prefix)| *prefix <= 24)
        .map(|(addr, _)| (addr & 0xFFFF_FF00, 24));
    let chosen = candidates.into_iter().find(|n| fits(*n))?;
    Some(format!("{}/24", std::net::Ipv4Addr::from(chosen.0)))
}

/// An IPv4 network "a.b.c.d/n" (a bare address is /32).
fn cidr(text: &str) -> Option<(u32, u8)> {
    let (addr, prefix) = text.split_once('/').unwrap_or((text, "32"));
    let addr: std::net::Ipv4Addr = addr.parse().ok()?;
    let prefix: u8 = prefix.parse().ok().filter(|p| *p <= 32)?;
    Some((u32::from(addr), prefix))
}

/// Whether network `net` lies inside the network `outer` names.
fn within(net: (u32, u8), outer: &str) -> bool {
    let Some((addr, prefix)) = cidr(outer) else {
        return false;
    };
    let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
    prefix <= net.1 && net.0 & mask == addr & mask
}

/// Blank disks that the profile's filters choose, named `<prefix>-N`.
pub fn disks(profile: &Profile, dir: &Path, prefix: &str) -> Result<Vec<Disk>> {
    Ok(disks_by_pool(profile, dir, prefix)?
        .into_iter()
        .map(|(_, d)| d)
        .collect())
}

/// As `disks`, each with the name of the pool whose filter chose it.
pub fn disks_by_pool(profile: &Profile, dir: &Path, prefix: &str) -> Result<Vec<(String, Disk)>> {
    let mut disks: Vec<(String, Disk)> = Vec::new();
    let mut sata = 0;
    for pool in &profile.storage.pools {
        let mut filters = vec![&pool.disks];
        filters.extend(pool.special.as_ref().map(|v| &v.disks));
        filters.extend(pool.log.as_ref().map(|v| &v.disks));
        filters.extend(pool.cache.as_ref());
        filters.extend(pool.spare.as_ref());
        for filter in filters {
            for _ in 0..filter.count {
                let n = disks.len() + 1;
                let disk = disk_for(filter, dir, &format!("{prefix}-{n}"), n, &mut sata)?;
                disks.push((pool.name.clone(), disk));
            }
        }
    }
    Ok(disks)
}

/// Spinning disks and SSDs are SATA (virtio says nothing of rotation), on
/// up to two AHCI controllers; "any" is virtio. A serial or model glob is
/// met by a name made from it.
fn disk_for(
    filter: &DiskFilter,
    dir: &Path,
    name: &str,
    n: usize,
    sata: &mut usize,
) -> Result<Disk> {
    if !filter.by_id.is_empty() {
        bail!("a by-id filter cannot be met by a derived test disk: give the profile's test machine by hand");
    }
    let gib = filter
        .min_size
        .map_or(8, |b| b.0.div_ceil(1 << 30).max(8))
        .min(filter.max_size.map_or(u64::MAX, |b| b.0 >> 30));
    let serial = filter
        .serial
        .as_deref()
        .map_or(name.to_string(), |g| from_glob(g, n));
    let mut disk = Disk::blank(dir, &serial, gib)?;
    if let Some(model) = &filter.model {
        disk = disk.model(&from_glob(model, n));
    }
    // Only SATA disks carry a model QEMU can set.
    let kind = match filter.model {
        Some(_) if filter.kind == DiskKind::Any => DiskKind::Ssd,
        _ => filter.kind,
    };
    let bus = match (filter.transport, kind) {
        (Some(Transport::Nvme), _) | (None, DiskKind::Nvme) => Bus::Nvme,
        (Some(Transport::Virtio), _) => Bus::Virtio,
        (Some(Transport::Sata), _) | (None, DiskKind::Hdd | DiskKind::Ssd) => Bus::Sata,
        (None, DiskKind::Any) => Bus::Virtio,
        (Some(other), _) => bail!("no test disk on transport {other:?}"),
    };
    if bus != Bus::Sata {
        return Ok(disk.on(bus));
    }
    // q35's AHCI and a second controller: six ports each, one the CD's.
    if *sata == 2 * crate::machine::AHCI_PORTS - 1 {
        bail!("more than eleven SATA disks: two AHCI controllers, one port the CD's");
    }
    *sata += 1;
    let disk = disk.on(Bus::Sata);
    Ok(if filter.kind == DiskKind::Hdd {
        disk.spinning()
    } else {
        disk
    })
}

/// A name a glob matches: `*` becomes the disk's number, `?` a letter,
/// a class `[...]` its first character.
fn from_glob(glob: &str, n: usize) -> String {
    let mut out = String::new();
    let mut chars = glob.chars();
    while let Some(c) = chars.next() {
        match c {
            '*' => out.push_str(&n.to_string()),
            '?' => out.push('x'),
            '[' => {
                let class: String = chars.by_ref().take_while(|c| *c != ']').collect();
                out.extend(class.chars().find(|c| *c != '!' && *c != '^'));
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sidecars_say_medium_sector_and_skipped_checks_and_nothing_else() {
        let dir = std::env::temp_dir().join(format!("hearth-sidecar-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let profile = dir.join("p.toml");
        let write = |text: &str| std::fs::write(dir.join("p.test.toml"), text).expect("write");
        write("medium = \"usb\"\nsector = 4096\n[skip]\nnfs = \"not here\"\n");
        let read = sidecar(&profile, &["nfs", "samba"]).expect("reads");
        assert!(read.usb && read.sector == 4096);
        assert_eq!(read.skip.get("nfs").map(String::as_str), Some("not here"));
        write("[skip]\nnsf = \"typo\"\n");
        let err = sidecar(&profile, &["nfs"])
            .expect_err("unknown check")
            .to_string();
        assert!(
            err.contains("skip.nsf: no such check; allowed: nfs"),
            "{err}"
        );
        write("sector = 1024\n");
        assert!(sidecar(&profile, &[]).is_err(), "sector 1024");
        write("disks = 3\n");
        assert!(sidecar(&profile, &[]).is_err(), "unknown key");
        std::fs::remove_dir_all(&dir).expect("cleanup");
        let none = sidecar(std::path::Path::new("/nonexistent/x.toml"), &[]).expect("defaults");
        assert!(!none.usb && none.sector == 512 && none.skip.is_empty());
    }

    #[test]
    fn every_shipped_sidecar_reads() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for dir in [root.join("profiles"), root.join("qemu-tests/layouts")] {
            for name in crate::budget::file_names(&dir) {
                let path = dir.join(format!("{name}.toml"));
                sidecar(&path, CHECKS).unwrap_or_else(|e| panic!("{e}"));
            }
        }
    }

    #[test]
    fn the_test_network_lies_in_the_profiles_lan() {
        let nas = load_profile("nas").expect("nas");
        assert_eq!(network(&nas).as_deref(), Some("192.168.0.0/24"));
        let homelab = load_profile("homelab").expect("homelab");
        assert_eq!(network(&homelab), None, "10.0.2.0/24 is in its LAN");
        assert!(within(
            (u32::from(std::net::Ipv4Addr::new(172, 20, 1, 0)), 24),
            "172.16.0.0/12"
        ));
        assert!(!within(
            (u32::from(std::net::Ipv4Addr::new(172, 32, 1, 0)), 24),
            "172.16.0.0/12"
        ));
        assert!(!within((0, 8), "10.0.0.0/16"));
    }

    #[test]
    fn every_shipped_profile_has_a_test_machine() {
        if std::process::Command::new("qemu-img")
            .arg("--version")
            .output()
            .is_err()
        {
            eprintln!("skipped: qemu-img is not installed");
            return;
        }
        let dir = std::env::temp_dir().join(format!("hearth-machines-{}", std::process::id()));
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../profiles");
        for name in crate::budget::file_names(&root) {
            let profile = load_profile(&name).expect("a shipped profile loads");
            let made = disks(&profile, &dir, &name).unwrap_or_else(|e| panic!("{name}: {e:#}"));
            assert!(!made.is_empty(), "{name}: no disk");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn globs_become_names_they_match() {
        assert_eq!(from_glob("WD-*", 3), "WD-3");
        assert_eq!(from_glob("S?N[ab]*x", 1), "SxNa1x");
        let made = from_glob("ST4000*", 2);
        assert!(glob::Pattern::new("ST4000*").expect("glob").matches(&made));
    }
}
