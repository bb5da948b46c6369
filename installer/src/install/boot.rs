//! GRUB for BIOS and UEFI on every root disk, each ESP holding the kernel,
//! the initrd and a grub.cfg that finds that ESP by its own UUID, so any one
//! disk boots alone. A kernel hook keeps all ESPs in step afterwards.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::mounts::chroot;
use crate::plan::{BootDisk, Plan};
use crate::runner::Runner;

const ESP_SYNC: &str = include_str!("esp-sync.sh");

pub fn install(plan: &Plan, target: &Path, runner: &Runner) -> Result<()> {
    // Restored initramfs host keys reach the initrd before it is copied.
    if plan.state.restore.is_some() && plan.packages.iter().any(|p| p == "dropbear-initramfs") {
        chroot(runner, target, &["update-initramfs", "-u", "-k", "all"])?;
    }
    let mut uuids = Vec::new();
    for disk in &plan.boot.disks {
        uuids.push(install_disk(
            target,
            disk,
            &plan.boot.kernel_cmdline,
            runner,
        )?);
    }
    fs::create_dir_all(target.join("etc/hearth"))?;
    fs::write(target.join("etc/hearth/esp-uuids"), uuids.join("\n") + "\n")?;
    for dir in ["etc/kernel/postinst.d", "etc/initramfs/post-update.d"] {
        let hook = target.join(dir).join("zz-hearth-esp-sync");
        fs::create_dir_all(target.join(dir))?;
        fs::write(&hook, ESP_SYNC)?;
        fs::set_permissions(&hook, fs::Permissions::from_mode(0o755))?;
    }
    Ok(())
}

/// GRUB for BIOS and UEFI, kernel, initrd and grub.cfg on one disk; the
/// system is at `target` ("/" for a disk replaced on the running system).
/// Returns the ESP's UUID.
pub fn install_disk(
    target: &Path,
    disk: &BootDisk,
    kernel_cmdline: &str,
    runner: &Runner,
) -> Result<String> {
    let (kernel, initrd) = newest_kernel(target)?;
    let esp_dir = target.join("boot/efi");
    fs::create_dir_all(&esp_dir)?;
    let esp = disk.esp.display().to_string();
    let uuid = runner
        .run("blkid", &["-s", "UUID", "-o", "value", &esp])?
        .trim()
        .to_string();
    runner.run(
        "mount",
        &["-t", "vfat", &esp, &esp_dir.display().to_string()],
    )?;
    let result = (|| -> Result<()> {
        let device = disk.disk.display().to_string();
        chroot(
            runner,
            target,
            &[
                "grub-install",
                "--target=i386-pc",
                "--boot-directory=/boot/efi",
                &device,
            ],
        )?;
        chroot(
            runner,
            target,
            &[
                "grub-install",
                "--target=x86_64-efi",
                "--efi-directory=/boot/efi",
                "--boot-directory=/boot/efi",
                "--removable",
                "--no-nvram",
            ],
        )?;
        fs::copy(&kernel, esp_dir.join("vmlinuz")).context("copying the kernel to the ESP")?;
        fs::copy(&initrd, esp_dir.join("initrd.img")).context("copying the initrd to the ESP")?;
        fs::write(
            esp_dir.join("grub/grub.cfg"),
            grub_cfg(&uuid, kernel_cmdline),
        )?;
        Ok(())
    })();
    runner.run("umount", &[&esp_dir.display().to_string()])?;
    result.with_context(|| format!("bootloader on {}", disk.disk.display()))?;
    Ok(uuid)
}

/// Each ESP's own menu: it finds itself by UUID and boots the root dataset.
pub fn grub_cfg(esp_uuid: &str, cmdline: &str) -> String {
    let serial = hearth_system::grub::SERIAL;
    format!(
        r#"{serial}set timeout=3
search --no-floppy --fs-uuid --set=root {esp_uuid}

menuentry "Hearth" {{
    linux /vmlinuz {cmdline} console=tty1 console=ttyS0,115200n8
    initrd /initrd.img
}}
"#
    )
}

fn newest_kernel(target: &Path) -> Result<(PathBuf, PathBuf)> {
    let mut versions: Vec<String> = fs::read_dir(target.join("boot"))?
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_string_lossy()
                .strip_prefix("vmlinuz-")
                .map(String::from)
        })
        .collect();
    versions.sort();
    let Some(version) = versions.pop() else {
        bail!("no kernel in {}/boot", target.display())
    };
    let initrd = target.join(format!("boot/initrd.img-{version}"));
    if !initrd.exists() {
        bail!("no initrd for kernel {version}");
    }
    Ok((target.join(format!("boot/vmlinuz-{version}")), initrd))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_esp_finds_itself() {
        let cfg = grub_cfg("1A2B-3C4D", "root=ZFS=rpool/ROOT/hearth boot=zfs");
        assert!(cfg.contains("search --no-floppy --fs-uuid --set=root 1A2B-3C4D"));
        assert!(cfg.contains("linux /vmlinuz root=ZFS=rpool/ROOT/hearth boot=zfs console=tty1"));
    }
}
