//! The system: unpacked from the live medium's base layer, then made this
//! machine's: files from the plan, accounts, keys made here, the installer
//! carried over, live-only packages removed (which rebuilds the initramfs
//! with this machine's hostid).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{Context, Result};

use super::mounts::chroot;
use super::Medium;
use crate::plan::{Account, Plan};
use crate::runner::Runner;
use crate::services::samba;
use hearth_system::accounts;
use hearth_system::files::copy_tree;

const NIC_WITH_LINK: &str = "@mac-of-first-nic-with-link@";

pub fn unpack(medium: &Medium, target: &Path, runner: &Runner) -> Result<()> {
    let base = medium.root.join(crate::medium::BASE_SQUASHFS);
    runner.run(
        "unsquashfs",
        &[
            "-f",
            "-n",
            "-d",
            &target.display().to_string(),
            &base.display().to_string(),
        ],
    )?;
    Ok(())
}

pub fn configure(plan: &Plan, medium: &Medium, target: &Path, runner: &Runner) -> Result<()> {
    let mac = first_nic_with_link(runner);
    // Without a NIC with link, any Ethernet interface will do.
    let nic_line = match &mac {
        Some(mac) => format!("MACAddress={mac}"),
        None => "Type=ether".to_string(),
    };
    for file in &plan.files {
        let path = target.join(file.path.strip_prefix("/").unwrap_or(&file.path));
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        let content = file
            .content
            .replace(&format!("MACAddress={NIC_WITH_LINK}"), &nic_line);
        fs::write(&path, content).with_context(|| format!("writing {}", path.display()))?;
        let mode = file.mode.bits();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode))?;
    }
    carry_installer(plan, medium, target)?;
    // Identity made here, never shipped in the image.
    fs::write(target.join("etc/machine-id"), "")?;
    for entry in fs::read_dir(target.join("etc/ssh"))?.flatten() {
        if entry.file_name().to_string_lossy().starts_with("ssh_host_") {
            fs::remove_file(entry.path())?;
        }
    }
    chroot(runner, target, &["ssh-keygen", "-A"])?;
    hearth_system::dkms::forget_signing_key(target);
    for account in &plan.accounts {
        account_setup(account, target, runner)?;
    }
    samba_passwords(plan, target, runner)?;
    let zone = fs::read_to_string(target.join("etc/timezone")).unwrap_or_default();
    let localtime = target.join("etc/localtime");
    let _ = fs::remove_file(&localtime);
    std::os::unix::fs::symlink(format!("/usr/share/zoneinfo/{}", zone.trim()), &localtime)?;
    let resolv = target.join("etc/resolv.conf");
    let _ = fs::remove_file(&resolv);
    std::os::unix::fs::symlink("/run/systemd/resolve/stub-resolv.conf", &resolv)?;
    enable_units(plan, target, runner)?;
    // live-boot belongs to the medium, not the server; removing it rebuilds
    // the initramfs, now with this machine's /etc/hostid.
    chroot(
        runner,
        target,
        &["dpkg", "--purge", "live-boot", "live-boot-initramfs-tools"],
    )?;
    Ok(())
}

fn carry_installer(plan: &Plan, medium: &Medium, target: &Path) -> Result<()> {
    let bin = target.join("usr/bin/hearth");
    fs::copy(&medium.installer, &bin).context("copying the installer")?;
    fs::set_permissions(&bin, fs::Permissions::from_mode(0o755))?;
    // The profiles and shipped compose apps, and the builder's guest image
    // when the ISO has it.
    fs::create_dir_all(target.join("usr/share/hearth/profiles"))?;
    for dir in ["profiles", "apps"] {
        let from = medium.share.root.join(dir);
        if from.is_dir() {
            copy_tree(&from, &target.join("usr/share/hearth").join(dir))?;
        }
    }
    let images = medium.root.join(crate::services::guests::ON_ISO);
    if images.is_dir() {
        let dir = crate::services::guests::DIR.trim_start_matches('/');
        copy_tree(&images, &target.join(dir))?;
    }
    let etc = target.join("etc/hearth");
    fs::create_dir_all(&etc)?;
    fs::write(etc.join("plan.json"), serde_json::to_string_pretty(plan)?)?;
    fs::set_permissions(etc.join("plan.json"), fs::Permissions::from_mode(0o600))?;
    fs::write(
        target.join("etc/systemd/system/hearth-firstboot.service"),
        FIRSTBOOT_UNIT,
    )?;
    Ok(())
}

/// Runs at every boot until it has nothing left to do: the provisioner is
/// idempotent, and a step that failed (no network yet) is retried.
const FIRSTBOOT_UNIT: &str = "\
[Unit]
Description=Hearth provisioning of the installed system (hearth provision)
Wants=network-online.target
After=network-online.target zfs-mount.service
ConditionPathExists=/etc/hearth/plan.json

[Service]
Type=oneshot
ExecStart=/usr/bin/hearth provision
RemainAfterExit=yes

[Install]
WantedBy=multi-user.target
";

fn account_setup(account: &Account, target: &Path, runner: &Runner) -> Result<()> {
    let hash = account.password.shadow().to_string();
    let home = if account.name == "root" {
        chroot(runner, target, &["usermod", "-p", &hash, "root"])?;
        target.join("root")
    } else {
        let groups = existing_groups(target, &account.groups);
        let mut args = vec!["useradd", "-m", "-s", "/bin/bash", "-p", &hash];
        let joined = groups.join(",");
        if !groups.is_empty() {
            args.extend(["-G", joined.as_str()]);
        }
        args.push(&account.name);
        chroot(runner, target, &args)?;
        target.join("home").join(&account.name)
    };
    if !account.ssh_keys.is_empty() {
        let ssh = home.join(".ssh");
        fs::create_dir_all(&ssh)?;
        fs::write(
            ssh.join("authorized_keys"),
            account.ssh_keys.join("\n") + "\n",
        )?;
        fs::set_permissions(&ssh, fs::Permissions::from_mode(0o700))?;
        fs::set_permissions(
            ssh.join("authorized_keys"),
            fs::Permissions::from_mode(0o600),
        )?;
        let owner = format!("{0}:{0}", account.name);
        chroot(
            runner,
            target,
            &[
                "chown",
                "-R",
                &owner,
                &format!("/{}", ssh.strip_prefix(target)?.display()),
            ],
        )?;
    }
    Ok(())
}

/// Samba's passdb gets the NT hashes from the answer through pdbedit's
/// smbpasswd import: no password in plain text, none on a command line.
fn samba_passwords(plan: &Plan, target: &Path, runner: &Runner) -> Result<()> {
    let users: Vec<&Account> = plan
        .accounts
        .iter()
        .filter(|a| a.samba_nt_hash.is_some())
        .collect();
    if users.is_empty() {
        return Ok(());
    }
    let mut lines = String::new();
    for account in users {
        let uid = accounts::user(target, &account.name)
            .with_context(|| format!("user {} is not in the target's /etc/passwd", account.name))?
            .uid;
        let nt = account.samba_nt_hash.as_deref().unwrap_or_default();
        let now = crate::runner::epoch_seconds();
        lines.push_str(&samba::smbpasswd_line(&account.name, uid, nt, now));
    }
    let file = target.join("root/.hearth-smbpasswd");
    fs::write(&file, "")?;
    fs::set_permissions(&file, fs::Permissions::from_mode(0o600))?;
    fs::write(&file, lines)?;
    let imported = chroot(
        runner,
        target,
        &["pdbedit", "-i", "smbpasswd:/root/.hearth-smbpasswd"],
    );
    let _ = fs::remove_file(&file);
    imported.map(drop)
}

/// Groups that exist in the target (docker, incus-admin only with their packages).
fn existing_groups(target: &Path, wanted: &[String]) -> Vec<String> {
    let groups = accounts::groups(target);
    wanted
        .iter()
        .filter(|g| groups.iter().any(|group| group.name == **g))
        .cloned()
        .collect()
}

fn enable_units(plan: &Plan, target: &Path, runner: &Runner) -> Result<()> {
    let dirs = [
        "lib/systemd/system",
        "usr/lib/systemd/system",
        "etc/systemd/system",
    ];
    for unit in &plan.units {
        let base = match unit.split_once('@') {
            Some((name, rest)) => {
                format!("{name}@.{}", rest.rsplit('.').next().unwrap_or("service"))
            }
            None => unit.clone(),
        };
        if dirs.iter().any(|d| target.join(d).join(&base).exists()) {
            chroot(runner, target, &["systemctl", "enable", unit])?;
        } else {
            runner.note(&format!("{unit}: not on this system yet, not enabled"));
        }
    }
    Ok(())
}

/// The MAC address of the first Ethernet interface with carrier (links
/// are brought up first: a down interface reports no carrier).
fn first_nic_with_link(runner: &Runner) -> Option<String> {
    let mut names: Vec<String> = fs::read_dir("/sys/class/net")
        .ok()?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n != "lo")
        .collect();
    names.sort();
    for name in &names {
        let _ = runner.run("ip", &["link", "set", "dev", name, "up"]);
    }
    std::thread::sleep(std::time::Duration::from_secs(3));
    names.into_iter().find_map(|name| {
        let dir = Path::new("/sys/class/net").join(&name);
        let ether = fs::read_to_string(dir.join("type")).is_ok_and(|t| t.trim() == "1");
        let up = fs::read_to_string(dir.join("carrier")).is_ok_and(|c| c.trim() == "1");
        let physical = dir.join("device").exists();
        (ether && up && physical)
            .then(|| fs::read_to_string(dir.join("address")).ok())
            .flatten()
            .map(|a| a.trim().to_string())
    })
}
