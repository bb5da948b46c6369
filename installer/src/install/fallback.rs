//! Shim's fallback loader on every ESP, with a vendor directory beside the
//! removable path. Hearth disks boot by the removable path
//! (`EFI/BOOT/BOOTX64.EFI`), which needs no firmware entry; with
//! `fbx64.efi` beside it, shim runs the fallback first, which writes a
//! firmware entry for this disk's `EFI/debian/shimx64.efi` from
//! `BOOTX64.CSV` and boots it. Firmware that lists entries by name then
//! shows each root disk, and a replaced disk gets its entry at its first
//! boot: nothing is written to NVRAM from the installer.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};

/// Debian's signed GRUB was built for this directory.
pub const VENDOR: &str = "EFI/debian";
/// The firmware entry's name.
pub const LABEL: &str = "Hearth";
const SIGNED_FALLBACK: &str = "usr/lib/shim/fbx64.efi.signed";
/// From the removable path, as grub-install laid it (shim, GRUB, MokManager
/// and GRUB's way to the menu), to the vendor directory.
const COPIES: [(&str, &str); 4] = [
    ("BOOTX64.EFI", "shimx64.efi"),
    ("grubx64.efi", "grubx64.efi"),
    ("mmx64.efi", "mmx64.efi"),
    ("grub.cfg", "grub.cfg"),
];

/// Lays the vendor directory and then the fallback loader onto the ESP
/// at `esp`, when the system at `target` has the signed fallback and
/// grub-install laid shim on the removable path. The fallback comes last:
/// an ESP with it but no complete vendor directory would not boot.
pub fn install(target: &Path, esp: &Path) -> Result<bool> {
    let fallback = target.join(SIGNED_FALLBACK);
    let removable = esp.join("EFI/BOOT");
    if !fallback.is_file() || !removable.join("mmx64.efi").is_file() {
        return Ok(false);
    }
    let vendor = esp.join(VENDOR);
    fs::create_dir_all(&vendor)?;
    for (from, to) in COPIES {
        fs::copy(removable.join(from), vendor.join(to))
            .with_context(|| format!("copying EFI/BOOT/{from} to {VENDOR}/{to}"))?;
    }
    fs::write(vendor.join("BOOTX64.CSV"), csv())?;
    fs::copy(&fallback, removable.join("fbx64.efi")).context("copying the fallback loader")?;
    Ok(true)
}

/// The fallback reads UCS-2 little-endian: loader, label, arguments, comment.
fn csv() -> Vec<u8> {
    let line = format!("shimx64.efi,{LABEL},,this root disk's shim, then GRUB\n");
    let mut bytes = vec![0xff, 0xfe];
    bytes.extend(line.encode_utf16().flat_map(u16::to_le_bytes));
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("hearth-fb-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("scratch");
        dir
    }

    fn removable(esp: &Path) {
        fs::create_dir_all(esp.join("EFI/BOOT")).expect("dir");
        for (from, _) in COPIES {
            fs::write(esp.join("EFI/BOOT").join(from), from).expect("file");
        }
    }

    #[test]
    fn vendor_directory_then_fallback() {
        let work = scratch("lay");
        let (target, esp) = (work.join("target"), work.join("esp"));
        fs::create_dir_all(target.join("usr/lib/shim")).expect("dir");
        fs::write(target.join(SIGNED_FALLBACK), "fb").expect("file");
        removable(&esp);
        assert!(install(&target, &esp).expect("install"));
        let vendor = esp.join(VENDOR);
        assert_eq!(
            fs::read_to_string(vendor.join("shimx64.efi")).expect("shim"),
            "BOOTX64.EFI"
        );
        for name in ["grubx64.efi", "mmx64.efi", "grub.cfg"] {
            assert_eq!(fs::read_to_string(vendor.join(name)).expect(name), name);
        }
        assert_eq!(
            fs::read_to_string(esp.join("EFI/BOOT/fbx64.efi")).expect("fb"),
            "fb"
        );
        let csv = fs::read(vendor.join("BOOTX64.CSV")).expect("csv");
        assert_eq!(&csv[..2], &[0xff, 0xfe], "UCS-2 LE with its mark");
        let units: Vec<u16> = csv[2..]
            .chunks(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        let text = String::from_utf16(&units).expect("UTF-16");
        assert!(text.starts_with("shimx64.efi,Hearth,,"), "{text}");
        let _ = fs::remove_dir_all(&work);
    }

    #[test]
    fn nothing_without_shim_or_the_signed_fallback() {
        let work = scratch("none");
        let (target, esp) = (work.join("target"), work.join("esp"));
        removable(&esp);
        assert!(!install(&target, &esp).expect("install"));
        assert!(!esp.join("EFI/BOOT/fbx64.efi").exists());
        fs::create_dir_all(target.join("usr/lib/shim")).expect("dir");
        fs::write(target.join(SIGNED_FALLBACK), "fb").expect("file");
        fs::remove_file(esp.join("EFI/BOOT/mmx64.efi")).expect("rm");
        assert!(!install(&target, &esp).expect("install"));
        assert!(!esp.join(VENDOR).exists());
        let _ = fs::remove_dir_all(&work);
    }
}
