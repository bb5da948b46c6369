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

/// The modules GRUB may load from the ESP (grub-install adds what they
/// need): those of Hearth's menu (`be::menu`) and grub-install's own stub,
/// and a few for a person at GRUB's prompt. All 280-odd of each platform
/// made every install copy some 570 files onto each ESP; the signed UEFI
/// image has its modules built in.
const MODULES: &[&str] = &[
    // The menu and the stub.
    "normal",
    "search",
    "search_fs_uuid",
    "fat",
    "part_gpt",
    "serial",
    "terminal",
    "loadenv",
    "test",
    "linux",
    "configfile",
    // At the prompt.
    "echo",
    "ls",
    "cat",
    "help",
    "reboot",
    "halt",
    "search_label",
    "search_fs_file",
    "part_msdos",
];

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
    let modules = format!("--install-modules={}", MODULES.join(" "));
    for args in [&bios[..], &uefi[..]] {
        // Hearth's menu is plain text on the console and the serial line,
        // in English: GRUB's fonts and translations (44 files, 2.4 MB,
        // twice per disk) would never be read.
        let only = [&modules[..], "--fonts=", "--locales="];
        chroot(runner, target, &[args, &only[..]].concat())?;
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

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::MODULES;
    use crate::be::menu::{grub_cfg, MenuEntry};

    /// `name: module` lines of a GRUB list file (a leading `*` marks a
    /// command that is also built in elsewhere).
    fn pairs(text: &str) -> BTreeMap<String, Vec<String>> {
        text.lines()
            .filter_map(|line| line.split_once(':'))
            .map(|(name, rest)| {
                let name = name.trim_start_matches('*').to_string();
                (name, rest.split_whitespace().map(String::from).collect())
            })
            .collect()
    }

    /// The modules and everything they depend on.
    fn closure(deps: &BTreeMap<String, Vec<String>>) -> BTreeSet<String> {
        let mut have: BTreeSet<String> = BTreeSet::new();
        let mut todo: Vec<String> = MODULES.iter().map(|m| m.to_string()).collect();
        while let Some(module) = todo.pop() {
            if have.insert(module.clone()) {
                todo.extend(deps.get(&module).into_iter().flatten().cloned());
            }
        }
        have
    }

    /// Every command Hearth's menu and grub-install's stub use comes from
    /// a module on the ESP, as a real GRUB of each platform lists them.
    #[test]
    fn the_menus_commands_are_on_the_esp() {
        let entry = MenuEntry {
            name: "hearth".into(),
            made: "2026-12-08 01:00".into(),
            cmdline: "root=ZFS=rpool/ROOT/hearth boot=zfs".into(),
        };
        let stub =
            "search.fs_uuid 0000-0000 root\nset prefix=($root)/grub\nconfigfile $prefix/grub.cfg\n";
        let menu = grub_cfg("0000-0000", &[entry]) + stub;
        for platform in ["i386-pc", "x86_64-efi"] {
            let dir = std::path::Path::new("/usr/lib/grub").join(platform);
            let (Ok(commands), Ok(deps)) = (
                std::fs::read_to_string(dir.join("command.lst")),
                std::fs::read_to_string(dir.join("moddep.lst")),
            ) else {
                eprintln!(
                    "skipped {platform}: no GRUB for it here (grub-pc-bin, grub-efi-amd64-bin)"
                );
                continue;
            };
            let commands = pairs(&commands);
            let deps = pairs(&deps);
            let on_esp = closure(&deps);
            for module in MODULES {
                assert!(deps.contains_key(*module), "{platform}: no module {module}");
            }
            let words = menu.split(|c: char| c.is_whitespace() || c == ';');
            let used: BTreeSet<&str> = words.filter(|w| commands.contains_key(*w)).collect();
            assert!(
                used.contains("save_env") && used.contains("linux"),
                "{used:?}"
            );
            for word in used {
                let module = &commands[word][0];
                assert!(
                    on_esp.contains(module),
                    "{platform}: `{word}` needs {module}"
                );
            }
        }
    }
}
