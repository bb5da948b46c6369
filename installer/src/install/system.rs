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
    let args = crate::medium::unpack_args(&base, target);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    runner.run("unsquashfs", &args)?;
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
        let content = with_secrets(
            &file
                .content
                .replace(&format!("MACAddress={NIC_WITH_LINK}"), &nic_line),
            plan,
        );
        hearth_system::files::write_mode(&path, content.as_bytes(), file.mode.bits())?;
    }
    if plan.pin_nic_names {
        pin_nic_names(target, runner)?;
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
    initramfs_host_keys(plan, target, runner)?;
    super::machine_key::make(&plan.hostname, target, runner)?;
    for account in &plan.accounts {
        account_setup(account, target, runner)?;
    }
    samba_passwords(plan, target, runner)?;
    generate_locale(plan, target, runner)?;
    let zone = fs::read_to_string(target.join("etc/timezone")).unwrap_or_default();
    let localtime = target.join("etc/localtime");
    let _ = fs::remove_file(&localtime);
    std::os::unix::fs::symlink(format!("/usr/share/zoneinfo/{}", zone.trim()), &localtime)?;
    let resolv = target.join("etc/resolv.conf");
    let _ = fs::remove_file(&resolv);
    std::os::unix::fs::symlink("/run/systemd/resolve/stub-resolv.conf", &resolv)?;
    enable_units(plan, target, runner)?;
    initramfs_of_this_machine(plan, target, runner)
}

/// The image's initramfs was made when the image was built; this machine's
/// hostid (which its pools carry) and pool cache are appended to it, not
/// rebuilt. An encrypted root rebuilds it: the unlock prompt, dropbear's
/// host keys and authorized_keys are this server's. A base made before
/// live-boot left it still has live-boot: purging it rebuilds.
fn initramfs_of_this_machine(plan: &Plan, target: &Path, runner: &Runner) -> Result<()> {
    let root = target.display().to_string();
    let (_, live_boot) = runner.query(
        "chroot",
        &[&root, "dpkg-query", "-W", "-f", "${Status}", "live-boot"],
    )?;
    if live_boot.ends_with(" installed") {
        let purge = ["dpkg", "--purge", "live-boot", "live-boot-initramfs-tools"];
        chroot(runner, target, &purge)?;
        return Ok(());
    }
    let encrypted = plan
        .pools
        .iter()
        .any(|p| p.role == crate::profile::PoolRole::Root && p.encryption.is_some());
    if encrypted {
        chroot(runner, target, &["update-initramfs", "-u", "-k", "all"])?;
        return Ok(());
    }
    let hostid = fs::read(target.join("etc/hostid")).context("reading the target's hostid")?;
    let cache = fs::read(target.join("etc/zfs/zpool.cache")).context("reading zpool.cache")?;
    use hearth_system::cpio::Entry;
    let entries = [
        Entry {
            path: "etc",
            data: None,
        },
        Entry {
            path: "etc/hostid",
            data: Some(&hostid),
        },
        Entry {
            path: "etc/zfs",
            data: None,
        },
        Entry {
            path: "etc/zfs/zpool.cache",
            data: Some(&cache),
        },
    ];
    for entry in fs::read_dir(target.join("boot"))?.flatten() {
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with("initrd.img-")
        {
            hearth_system::cpio::append(&entry.path(), &entries)?;
            runner.note(&format!(
                "{}: this machine's /etc/hostid and zpool.cache appended",
                entry.path().display()
            ));
        }
    }
    Ok(())
}

/// dropbear's host keys in the initramfs, made here: the base image's
/// would be every server's.
fn initramfs_host_keys(plan: &Plan, target: &Path, runner: &Runner) -> Result<()> {
    if !plan.packages.iter().any(|p| p == "dropbear-initramfs") {
        return Ok(());
    }
    let dir = target.join("etc/dropbear/initramfs");
    for kind in ["ed25519", "ecdsa", "rsa"] {
        let _ = fs::remove_file(dir.join(format!("dropbear_{kind}_host_key")));
    }
    for kind in ["ed25519", "ecdsa"] {
        let file = format!("/etc/dropbear/initramfs/dropbear_{kind}_host_key");
        chroot(runner, target, &["dropbearkey", "-t", kind, "-f", &file])?;
    }
    Ok(())
}

/// A planned file with the answer's secrets in place of their names.
fn with_secrets(content: &str, plan: &Plan) -> String {
    let mut out = content.to_string();
    for (name, value) in &plan.secrets {
        out = out.replace(&crate::services::alerts::secret(name), value);
    }
    out
}

/// The profile's locale, generated: /etc/default/locale alone names a
/// locale that does not exist, and every login warns.
fn generate_locale(plan: &Plan, target: &Path, runner: &Runner) -> Result<()> {
    let Some(entry) = check_locale(plan, target)? else {
        return Ok(());
    };
    hearth_system::locale::generate(&entry, target, runner)
}

/// The SUPPORTED line of the plan's locale in the system at `root`; None
/// for a C locale, which needs no generating.
pub fn check_locale(plan: &Plan, root: &Path) -> Result<Option<String>> {
    let Some(locale) = plan
        .files
        .iter()
        .find(|f| f.path == Path::new("/etc/default/locale"))
        .and_then(|f| f.content.trim().strip_prefix("LANG=").map(str::to_string))
    else {
        return Ok(None);
    };
    hearth_system::locale::entry_for(root, &locale)
        .context("system.locale names a locale Debian does not ship; nothing was written")
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
    // First boot needs no password: the target's copy keeps no hash, and
    // the SHA-256 of the plan as it ran (the one a person confirmed).
    let kept = serde_json::to_string_pretty(&plan.without_secrets())?;
    hearth_system::files::write_mode(&etc.join("plan.json"), kept.as_bytes(), 0o600)?;
    // Hashed without pool keys: the hash must not test a guessed passphrase.
    let ran = hearth_system::files::sha256(
        serde_json::to_string_pretty(&plan.without_pool_keys())?.as_bytes(),
    );
    fs::write(etc.join("plan.sha256"), format!("{ran}\n"))?;
    if let Err(err) = keep_inputs(medium, &etc) {
        // A record for the recovery kit; the server installs without it.
        eprintln!("note: the answer and profile are not kept in /etc/hearth: {err:#}");
    }
    fs::write(
        target.join("etc/systemd/system/hearth-firstboot.service"),
        FIRSTBOOT_UNIT,
    )?;
    Ok(())
}

/// The answer and the profile (merged, as one file) it was installed
/// from: the recovery kit carries them, so a new server can be made alike.
fn keep_inputs(medium: &Medium, etc: &Path) -> Result<()> {
    let Some(answer) = &medium.answer else {
        return Ok(());
    };
    let mut doc: toml_edit::DocumentMut = fs::read_to_string(answer)?.parse()?;
    // The kit's passphrase stays off the server the kit protects, and a
    // pool's passphrase off the disks it unlocks.
    doc.remove("recovery-kit-passphrase");
    if let Some(pools) = doc.get_mut("pools").and_then(|p| p.as_table_like_mut()) {
        for (_, pool) in pools.iter_mut() {
            if let Some(pool) = pool.as_table_like_mut() {
                pool.remove("passphrase");
            }
        }
    }
    let text = doc.to_string();
    hearth_system::files::write_mode(&etc.join("answer.toml"), text.as_bytes(), 0o600)?;
    let profile = super::profile_for(answer, &medium.share)?;
    let merged = crate::load::merged(&profile).map_err(|p| anyhow::anyhow!("{p}"))?;
    let text = toml::to_string(&merged)?;
    hearth_system::files::write_mode(&etc.join("profile.toml"), text.as_bytes(), 0o600)?;
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
    let home = if account.name == "root" {
        target.join("root")
    } else {
        let groups = existing_groups(target, &account.groups)?;
        let mut args = vec!["useradd", "-m", "-s", "/bin/bash"];
        let joined = groups.join(",");
        if !groups.is_empty() {
            args.extend(["-G", joined.as_str()]);
        }
        args.push(&account.name);
        chroot(runner, target, &args)?;
        target.join("home").join(&account.name)
    };
    set_password(account, target, runner)?;
    if !account.ssh_keys.is_empty() {
        let ssh = home.join(".ssh");
        fs::create_dir_all(&ssh)?;
        fs::set_permissions(&ssh, fs::Permissions::from_mode(0o700))?;
        let keys = account.ssh_keys.join("\n") + "\n";
        hearth_system::files::write_mode(&ssh.join("authorized_keys"), keys.as_bytes(), 0o600)?;
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
    hearth_system::files::write_mode(&file, lines.as_bytes(), 0o600)?;
    let imported = chroot(
        runner,
        target,
        &["pdbedit", "-i", "smbpasswd:/root/.hearth-smbpasswd"],
    );
    let _ = fs::remove_file(&file);
    imported.map(drop)
}

/// The hash goes to chpasswd on stdin: never on a command line, so never
/// in the install log or a process listing.
fn set_password(account: &Account, target: &Path, runner: &Runner) -> Result<()> {
    let line = format!("{}:{}\n", account.name, account.password.shadow());
    let target = target.display().to_string();
    runner
        .run_secret("chroot", &[&target, "chpasswd", "-e"], Some(&line))
        .map(drop)
}

/// The account's groups; the plan's checks promised each one exists.
fn existing_groups(target: &Path, wanted: &[String]) -> Result<Vec<String>> {
    let groups = accounts::groups(target);
    for group in wanted {
        if !groups.iter().any(|g| g.name == *group) {
            anyhow::bail!("group {group} is not on the installed system (the profile's checks list the groups it may use)");
        }
    }
    Ok(wanted.to_vec())
}

fn enable_units(plan: &Plan, target: &Path, runner: &Runner) -> Result<()> {
    let dirs = [
        "lib/systemd/system",
        "usr/lib/systemd/system",
        "etc/systemd/system",
    ];
    let mut present = Vec::new();
    for unit in &plan.units {
        let base = match unit.split_once('@') {
            Some((name, rest)) => {
                format!("{name}@.{}", rest.rsplit('.').next().unwrap_or("service"))
            }
            None => unit.clone(),
        };
        if dirs.iter().any(|d| target.join(d).join(&base).exists()) {
            present.push(unit.as_str());
        } else {
            runner.note(&format!("{unit}: not on this system yet, not enabled"));
        }
    }
    if present.is_empty() {
        return Ok(());
    }
    // One systemctl for all: each start of it costs about half a second.
    // Without SysV's hooks: systemd boots this system, the packages made
    // their /etc/rc?.d links already, and each hook runs update-rc.d, a
    // perl script (seven for homelab) slow to start under emulation.
    let mut args = vec!["env", "SYSTEMCTL_SKIP_SYSV=1", "systemctl", "enable"];
    args.extend(present);
    chroot(runner, target, &args).map(drop)
}

/// .link files naming the NICs this machine has, in the order of their
/// current names.
fn pin_nic_names(target: &Path, runner: &Runner) -> Result<()> {
    let mut nics = crate::fleet::facts::nics(Path::new("/sys/class/net"));
    nics.retain(|n| crate::plan::system::is_mac(&n.mac));
    let macs: Vec<String> = nics.iter().map(|n| n.mac.clone()).collect();
    let dir = target.join("etc/systemd/network");
    fs::create_dir_all(&dir)?;
    for (i, (name, content)) in crate::plan::system::pinned_links(&macs)
        .into_iter()
        .enumerate()
    {
        let was = nics.get(i).map(|n| n.name.as_str()).unwrap_or_default();
        runner.note(&format!(
            "{name}: {was} ({}) is nic{i} from the next boot on",
            macs[i]
        ));
        fs::write(dir.join(name), content)?;
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
    // Links come up within a few seconds; waiting is over once every
    // Ethernet NIC has carrier (the live system's network has usually
    // brought them up long before), so the first in order is still chosen.
    let ethers: Vec<&String> = names.iter().filter(|n| is_physical_ether(n)).collect();
    let started = std::time::Instant::now();
    while started.elapsed() < std::time::Duration::from_secs(3)
        && !ethers.iter().all(|n| has_carrier(n))
    {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    ethers
        .into_iter()
        .find(|n| has_carrier(n))
        .and_then(|name| {
            fs::read_to_string(Path::new("/sys/class/net").join(name).join("address"))
                .ok()
                .map(|a| a.trim().to_string())
        })
}

fn is_physical_ether(name: &str) -> bool {
    let dir = Path::new("/sys/class/net").join(name);
    let ether = fs::read_to_string(dir.join("type")).is_ok_and(|t| t.trim() == "1");
    ether && dir.join("device").exists()
}

fn has_carrier(name: &str) -> bool {
    fs::read_to_string(Path::new("/sys/class/net").join(name).join("carrier"))
        .is_ok_and(|c| c.trim() == "1")
}
