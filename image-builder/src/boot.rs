//! GRUB's configuration for the ISO, and its EFI boot image.

use std::fs;
use std::path::Path;

use anyhow::Result;

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

/// The FAT image UEFI firmware boots from: EFI/BOOT/BOOTX64.EFI.
pub fn efi_image(grub_efi: &Path, work: &Path, out: &Path) -> Result<()> {
    let tree = work.join("efi-tree");
    let _ = fs::remove_dir_all(&tree);
    fs::create_dir_all(tree.join("EFI/BOOT"))?;
    fs::copy(grub_efi, tree.join("EFI/BOOT/BOOTX64.EFI"))?;
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
