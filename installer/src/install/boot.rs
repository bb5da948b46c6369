//! GRUB for BIOS and UEFI on every root disk (with shim's fallback loader:
//! `fallback`), each ESP holding the first boot environment's kernel and
//! initrd, a grub.cfg that finds that ESP by its own UUID (so any one disk
//! boots alone) and the boot state. The installed system's hooks
//! (`hearth be sync`) keep all ESPs in step.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};

use super::mounts::chroot;
use crate::at_once::at_once;
use crate::be::esp::{self, EnvBoot};
use crate::be::menu::BootState;
use crate::datasets::BOOT_ENV;
use crate::plan::{BootDisk, Plan};
use crate::runner::Runner;

/// Onto every root disk at once: GRUB for BIOS and UEFI, shim and its
/// fallback, the certificates, the first boot environment's kernel and
/// initrd, and the menu; then the ESPs' UUIDs recorded on the root pool
/// and the machine's key put up for enrolment.
pub fn install(plan: &Plan, target: &Path, runner: &Runner) -> Result<()> {
    // Restored initramfs host keys reach the initrd before it is copied.
    if plan.state.restore.is_some() && plan.packages.iter().any(|p| p == "dropbear-initramfs") {
        chroot(runner, target, &["update-initramfs", "-u", "-k", "all"])?;
    }
    let (kernel, initrd) = crate::be::envs::kernel(target)?;
    let first = EnvBoot {
        name: BOOT_ENV.to_string(),
        created: hearth_system::runner::epoch_seconds(),
        kernel,
        initrd,
        cmdline: plan.boot.kernel_cmdline.clone(),
        protected: true,
    };
    // GRUB's installs and the copies are independent from disk to disk.
    let uuids = at_once(
        plan.boot.disks.iter().enumerate(),
        "a bootloader install",
        |(i, disk)| {
            let at = format!("boot/efi-{}", i + 1);
            let uuid = with_esp(target, &at, disk, runner, |dir, uuid| {
                loaders_onto(target, &at, dir, disk, runner)?;
                let state = BootState::activate(BOOT_ENV, None);
                esp::sync_dir(dir, uuid, std::slice::from_ref(&first), &state, runner).map(|_| ())
            });
            let _ = fs::remove_dir(target.join(&at));
            uuid
        },
    )?;
    if let Some(pool) = plan
        .pools
        .iter()
        .find(|p| p.role == crate::profile::PoolRole::Root)
    {
        crate::be::set_esp_uuids(&pool.name, &uuids, runner)?;
    }
    // After the kept state is back: a kept key may be enrolled already.
    super::machine_key::enroll(plan, target, runner)
}

/// GRUB for BIOS and UEFI on one disk, then `fill` with its ESP mounted;
/// the system is at `target` ("/" for a disk replaced on the running
/// system). Returns the ESP's UUID.
pub fn install_disk(
    target: &Path,
    disk: &BootDisk,
    runner: &Runner,
    fill: impl FnOnce(&Path, &str) -> Result<()>,
) -> Result<String> {
    let at = "boot/efi";
    with_esp(target, at, disk, runner, |dir, uuid| {
        loaders_onto(target, at, dir, disk, runner)?;
        fill(dir, uuid)
    })
}

/// GRUB, shim and its fallback, and the certificates, onto the ESP
/// mounted at `dir` (`at` inside `target`).
fn loaders_onto(
    target: &Path,
    at: &str,
    dir: &Path,
    disk: &BootDisk,
    runner: &Runner,
) -> Result<()> {
    grub_onto(target, at, disk, runner)?;
    certificates_onto(target, dir)?;
    super::fallback::install(target, dir).map(drop)
}

/// `work` with the disk's ESP mounted at `at` (relative to `target`),
/// unmounted after whatever happened. Returns the ESP's UUID.
fn with_esp(
    target: &Path,
    at: &str,
    disk: &BootDisk,
    runner: &Runner,
    work: impl FnOnce(&Path, &str) -> Result<()>,
) -> Result<String> {
    let esp_dir = target.join(at);
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
    let result = work(&esp_dir, &uuid);
    runner.run("umount", &[&esp_dir.display().to_string()])?;
    result.with_context(|| format!("bootloader on {}", disk.disk.display()))?;
    Ok(uuid)
}

/// Hearth's menu is plain text on the console and the serial line, in
/// English: GRUB's fonts and translations (44 files, 2.4 MB, written twice
/// per disk) would never be read.
const NO_FONTS_OR_TRANSLATIONS: [&str; 2] = ["--fonts=", "--locales="];

/// GRUB from the system at `target` onto the disk, its files on the ESP
/// mounted at `at` (relative to `target`): the BIOS core in the disk's
/// boot partition, the UEFI loaders on the removable path.
fn grub_onto(target: &Path, at: &str, disk: &BootDisk, runner: &Runner) -> Result<()> {
    let inside = format!("/{at}");
    let boot_dir = format!("--boot-directory={inside}");
    let device = disk.disk.display().to_string();
    let bios = ["grub-install", "--target=i386-pc", &boot_dir, &device];
    let efi_dir = format!("--efi-directory={inside}");
    let uefi = [
        "grub-install",
        "--target=x86_64-efi",
        &efi_dir,
        &boot_dir,
        "--removable",
        "--no-nvram",
    ];
    for args in [&bios[..], &uefi[..]] {
        chroot(
            runner,
            target,
            &[args, &NO_FONTS_OR_TRANSLATIONS[..]].concat(),
        )?;
    }
    Ok(())
}

/// The system's Secure Boot certificates (the build's, the machine's) at
/// the ESP's root, where MokManager's "Enroll key from disk" finds them.
fn certificates_onto(target: &Path, esp: &Path) -> Result<()> {
    let dir = target.join(hearth_system::secure_boot::DIR.trim_start_matches('/'));
    let Ok(entries) = fs::read_dir(&dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "der") {
            fs::copy(&path, esp.join(entry.file_name()))
                .with_context(|| format!("copying {} onto the ESP", path.display()))?;
        }
    }
    let machine = target.join(hearth_system::secure_boot::MACHINE_CERT.trim_start_matches('/'));
    if machine.is_file() {
        fs::copy(&machine, esp.join("hearth-machine.der"))?;
    }
    Ok(())
}
