//! GRUB's configuration for the ISO, and its EFI boot files and image.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use hearth_system::secure_boot::BUILD_CERT;

/// The file whose presence marks a Hearth ISO; GRUB finds its root by it.
pub const MARKER: &str = "/.hearth/live";

/// Built into the GRUB images: find the ISO wherever GRUB was loaded from
/// (CD, USB stick, the EFI partition appended to the ISO).
pub fn early_config() -> String {
    format!("search --no-floppy --file --set=root {MARKER}\nset prefix=($root)/boot/grub\n")
}

/// The live system's kernel arguments, from the ISO and over the network.
pub fn kernel_args(profile: &str) -> String {
    format!("boot=live components console=tty1 console=ttyS0,115200n8 hearth.profile={profile}")
}

/// Kernel arguments a user adds (`hearth.answer=`, `ip=`): each one word of
/// letters, digits and `. _ - : / @ % , + =`, so that nothing can end
/// GRUB's line or quote.
pub fn check_extra(args: &[String]) -> Result<()> {
    for arg in args {
        let allowed = |c: char| c.is_ascii_alphanumeric() || "._-:/@%,+=[]".contains(c);
        if arg.is_empty() || !arg.chars().all(allowed) {
            anyhow::bail!(
                "kernel argument {:?}: allowed: one word of letters, digits and . _ - : / @ % , + = [ ]",
                arg
            );
        }
    }
    Ok(())
}

/// The boot menu: install (default), and a live system whose serial console
/// is a root shell (rescue, and the channel the QEMU tests drive). `extra`
/// is checked by [`check_extra`] first.
pub fn grub_cfg(profile: &str, label: &str, extra: &[String]) -> String {
    let mut common = kernel_args(profile);
    for arg in extra {
        common.push(' ');
        common.push_str(arg);
    }
    let serial = hearth_system::grub::SERIAL;
    format!(
        r#"{serial}set timeout=5
set default=0

menuentry "Install Hearth ({label})" {{
    linux /live/vmlinuz {common} quiet
    initrd /live/initrd.img
}}

menuentry "Hearth live system, root shell on the serial console (rescue)" --hotkey=s {{
    linux /live/vmlinuz {common} hearth.mode=shell
    initrd /live/initrd.img
}}
"#
    )
}

/// Beside Debian's signed GRUB (whose own early config looks for
/// /.disk/info, then for grub.cfg beside itself): the way to the menu.
pub fn signed_grub_cfg() -> String {
    format!("{}configfile $prefix/grub.cfg\n", early_config())
}

/// What /.disk/info says: Debian's signed GRUB finds the medium by it.
pub fn disk_info(label: &str) -> String {
    format!("Hearth {label}\n")
}

/// The EFI boot files, in both the EFI image and the ISO's own tree:
/// shim as the removable path's loader, MokManager beside it, Debian's
/// signed GRUB for CDs and the way to the menu. No fallback loader: it
/// would write boot entries for a medium that is only passing through.
pub fn efi_files(signed: &Path, grub_cfg: &Path) -> [(&'static str, PathBuf); 4] {
    [
        ("EFI/BOOT/BOOTX64.EFI", signed.join("shimx64.efi")),
        ("EFI/BOOT/grubx64.efi", signed.join("grubx64.efi")),
        ("EFI/BOOT/mmx64.efi", signed.join("mmx64.efi")),
        ("EFI/BOOT/grub.cfg", grub_cfg.to_path_buf()),
    ]
}

/// The FAT image UEFI firmware boots from (a CD's El Torito image, a USB
/// stick's appended partition), with the build's certificate at its root
/// for MokManager's "Enroll key from disk".
pub fn efi_image(signed: &Path, work: &Path, out: &Path) -> Result<()> {
    let tree = work.join("efi-tree");
    let _ = fs::remove_dir_all(&tree);
    fs::create_dir_all(tree.join("EFI/BOOT"))?;
    let stub = work.join("signed-grub.cfg");
    fs::write(&stub, signed_grub_cfg())?;
    for (to, from) in efi_files(signed, &stub) {
        fs::copy(&from, tree.join(to)).with_context(|| format!("{}", from.display()))?;
    }
    let cert = signed.join(BUILD_CERT);
    if cert.is_file() {
        fs::copy(&cert, tree.join(BUILD_CERT))?;
    }
    hearth_system::esp::make_image(out, &tree, 0x4845_4152)?;
    fs::remove_dir_all(&tree)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_consoles_and_both_entries() {
        let cfg = grub_cfg(
            "homelab",
            "homelab",
            &["hearth.answer=https://10.0.2.2:8443/answer".into()],
        );
        assert!(
            cfg.contains("hearth.profile=homelab hearth.answer=https://10.0.2.2:8443/answer quiet")
        );
        assert!(
            check_extra(&["a\"b".into()]).is_err() && check_extra(&["x; reboot".into()]).is_err()
        );
        assert!(cfg.contains("console=tty1 console=ttyS0,115200n8"));
        assert!(cfg.contains("hearth.mode=shell"));
        assert!(cfg.contains("terminal_output console serial"));
        assert!(
            cfg.contains("--hotkey=s"),
            "the shell entry is one key away on a serial line"
        );
    }
}
