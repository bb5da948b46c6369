//! What a machine says about itself to the answer server (as Proxmox's
//! automated installer POSTs its system information): disks, NICs, DMI
//! identity, memory and firmware. Gathered on the live system; read by the
//! server's rules.

use std::fs;
use std::path::Path;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::inventory::{self, Inventory};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct Facts {
    /// The installer's version.
    pub hearth: String,
    /// The profile the live system was built for.
    pub profile: String,
    /// "uefi" or "bios".
    pub firmware: String,
    pub memory_bytes: u64,
    pub dmi: Dmi,
    pub nics: Vec<Nic>,
    /// What `hearth disks --json` prints.
    pub inventory: Inventory,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct Dmi {
    pub vendor: String,
    pub product: String,
    pub serial: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct Nic {
    pub name: String,
    /// Lower case, colon separated.
    pub mac: String,
    pub link: bool,
}

impl Facts {
    /// Every disk serial, for the rules that match on one.
    pub fn disk_serials(&self) -> impl Iterator<Item = &str> {
        self.inventory
            .disks
            .iter()
            .filter_map(|d| d.serial.as_deref())
    }
}

/// This machine's facts, read from /sys and lsblk.
pub fn gather(profile: &str) -> Result<Facts> {
    Ok(Facts {
        hearth: env!("CARGO_PKG_VERSION").into(),
        profile: profile.into(),
        firmware: firmware(Path::new("/sys/firmware/efi")).into(),
        memory_bytes: memory(&fs::read_to_string("/proc/meminfo").unwrap_or_default()),
        dmi: dmi(Path::new("/sys/class/dmi/id")),
        nics: nics(Path::new("/sys/class/net")),
        inventory: inventory::probe_with(false)?,
    })
}

fn firmware(efi: &Path) -> &'static str {
    match efi.is_dir() {
        true => "uefi",
        false => "bios",
    }
}

fn memory(meminfo: &str) -> u64 {
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

fn dmi(dir: &Path) -> Dmi {
    let read = |name: &str| {
        fs::read_to_string(dir.join(name))
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    Dmi {
        vendor: read("sys_vendor"),
        product: read("product_name"),
        serial: read("product_serial"),
    }
}

/// Physical Ethernet NICs (those with a device behind them), by name.
pub fn nics(dir: &Path) -> Vec<Nic> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut nics: Vec<Nic> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("device").exists() && read(p, "type") == "1")
        .map(|p| Nic {
            name: p.file_name().unwrap_or_default().to_string_lossy().into(),
            mac: read(&p, "address").to_lowercase(),
            link: read(&p, "carrier") == "1",
        })
        .collect();
    nics.sort_by(|a, b| a.name.cmp(&b.name));
    nics
}

fn read(dir: &Path, name: &str) -> String {
    fs::read_to_string(dir.join(name))
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_and_nics_are_read_from_their_files() {
        assert_eq!(
            memory("MemTotal:        2048 kB\nMemFree: 1 kB\n"),
            2048 * 1024
        );
        let dir = std::env::temp_dir().join(format!("hearth-facts-{}", std::process::id()));
        for (name, kind, device) in [
            ("enp1s0", "1", true),
            ("lo", "772", false),
            ("wg0", "65534", false),
        ] {
            let nic = dir.join(name);
            fs::create_dir_all(&nic).expect("dir");
            fs::write(nic.join("type"), format!("{kind}\n")).expect("type");
            fs::write(nic.join("address"), "52:54:00:AB:CD:EF\n").expect("mac");
            fs::write(nic.join("carrier"), "1\n").expect("carrier");
            if device {
                fs::create_dir_all(nic.join("device")).expect("device");
            }
        }
        let found = nics(&dir);
        assert_eq!(
            found,
            vec![Nic {
                name: "enp1s0".into(),
                mac: "52:54:00:ab:cd:ef".into(),
                link: true
            }]
        );
        fs::remove_dir_all(&dir).ok();
    }
}
