//! `hearth upgrade`: the running environment snapshotted and cloned, the
//! clone upgraded in a chroot (no service restarted: the running system
//! is untouched), its kernel and initrd put on every ESP, and the clone
//! made the default for a trial boot; the old environment stays bootable.

use std::fs;
use std::path::Path;

use anyhow::{bail, Context, Result};

use super::sources::Mounted;
use super::{config, envs, menu::BootState, prune, sync_all, Config};
use crate::runner::Runner;
use hearth_system::mounts::Binds;

/// Mounted outside /run: /run itself is bound into the chroot.
const WORK: &str = "/mnt/hearth-upgrade";
/// Service starts refused in the chroot (invoke-rc.d's policy).
const POLICY: &str = "#!/bin/sh\n# Hearth upgrade: no service starts in the chroot.\nexit 101\n";
/// Datasets outside the environment apt writes to, bound in.
const SHARED: [&str; 2] = ["var/cache", "var/log"];

pub fn upgrade(name: Option<&str>, runner: &Runner) -> Result<()> {
    if envs::in_chroot() {
        bail!("hearth upgrade runs on the booted server, not in a chroot");
    }
    let config = config()?;
    let pool = config.pool.clone();
    let running = envs::running(&pool)?;
    let name = match name {
        Some(name) => name.to_string(),
        None => format!(
            "hearth-{}",
            &super::clock::stamp(hearth_system::runner::epoch_seconds())[..13]
        ),
    };
    envs::check_name(&name)?;
    if envs::list(&pool, runner)?.iter().any(|e| e.name == name) {
        bail!("boot environment {name} exists already");
    }
    let source = format!("{pool}/ROOT/{running}");
    let snapshot = prune::fresh_snapshot(&source, "upgrade", runner)?;
    let dataset = format!("{pool}/ROOT/{name}");
    runner.run("zfs", &["snapshot", &snapshot])?;
    envs::clone(&snapshot, &dataset, runner)?;
    println!("{name}: a clone of {snapshot}; upgrading it");
    let dir = Path::new(WORK).join(&name);
    let undo = || {
        let _ = runner.run("zfs", &["destroy", &dataset]);
        let _ = runner.run("zfs", &["destroy", &snapshot]);
    };
    match upgrade_in(&config, &name, &dataset, &dir, &running, runner) {
        Err(err) => {
            undo();
            return Err(err.context(format!(
                "the upgrade failed; {running} is unchanged and stays the default"
            )));
        }
        Ok(false) => {
            undo();
            println!("nothing to upgrade: no environment made, {running} stays the default");
            return Ok(());
        }
        Ok(true) => {}
    }
    let gone = prune::environments(&config, &[&name, &running], runner)?;
    if !gone.is_empty() {
        println!(
            "destroyed the oldest environments beyond {}: {}",
            config.keep,
            gone.join(" ")
        );
        sync_all(&config, None, &super::unchanged, runner)?;
    }
    prune::snapshots(&source, "upgrade", config.snapshots as usize, runner)?;
    println!(
        "hearth upgrade: {name} boots next, as a trial: if it does not reach multi-user, {running} boots again by itself.\n\
         Reboot to use it; to stay on {running}: hearth rollback {running}"
    );
    Ok(())
}

fn upgrade_in(
    config: &Config,
    name: &str,
    dataset: &str,
    dir: &Path,
    running: &str,
    runner: &Runner,
) -> Result<bool> {
    let mounted = Mounted::at(dataset, dir, false, runner)?;
    let before = packages(Path::new("/"), runner)?;
    apt_in(&mounted.dir, runner)?;
    let after = packages(&mounted.dir, runner)?;
    let changed = changes(&before, &after);
    if changed.is_empty() {
        return Ok(false);
    }
    for line in changed {
        println!("  {line}");
    }
    let state = BootState::activate(name, Some(running));
    sync_all(
        config,
        Some((name, &mounted.dir)),
        &|_, _| state.clone(),
        runner,
    )?;
    Ok(true)
}

/// apt in the chroot, with the API filesystems and the shared datasets
/// bound in and service starts refused; all undone whatever happens.
fn apt_in(root: &Path, runner: &Runner) -> Result<()> {
    let mut binds = Binds::new(root, runner)?;
    let mut shared = Vec::new();
    for dir in SHARED {
        let at = root.join(dir);
        fs::create_dir_all(&at)?;
        runner.run(
            "mount",
            &["--bind", &format!("/{dir}"), &at.display().to_string()],
        )?;
        shared.push(at);
    }
    let policy = root.join("usr/sbin/policy-rc.d");
    fs::write(&policy, POLICY)?;
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&policy, fs::Permissions::from_mode(0o755))?;
    let result = run_apt(root, runner);
    let _ = fs::remove_file(&policy);
    for at in shared.iter().rev() {
        runner.run("umount", &[&at.display().to_string()])?;
    }
    binds.close()?;
    result
}

fn run_apt(root: &Path, runner: &Runner) -> Result<()> {
    let root = root.display().to_string();
    let env = [("DEBIAN_FRONTEND".to_string(), "noninteractive".to_string())];
    runner
        .run_with_env("chroot", &[&root, "apt-get", "-q", "update"], &env)
        .context("apt-get update")?;
    runner
        .run_with_env(
            "chroot",
            &[
                &root,
                "apt-get",
                "-q",
                "-y",
                "-o",
                "Dpkg::Options::=--force-confdef",
                "-o",
                "Dpkg::Options::=--force-confold",
                "dist-upgrade",
            ],
            &env,
        )
        .context("apt-get dist-upgrade")?;
    Ok(())
}

/// "name version" of every installed package under `root`.
fn packages(root: &Path, runner: &Runner) -> Result<Vec<String>> {
    let admin = root.join("var/lib/dpkg").display().to_string();
    let out = runner.run(
        "dpkg-query",
        &["--admindir", &admin, "-W", "-f", "${Package} ${Version}\\n"],
    )?;
    Ok(out.lines().map(String::from).collect())
}

/// What changed between two package lists, as "name old -> new".
pub fn changes(before: &[String], after: &[String]) -> Vec<String> {
    let split = |l: &String| {
        l.split_once(' ')
            .map(|(n, v)| (n.to_string(), v.to_string()))
    };
    let old: std::collections::BTreeMap<String, String> = before.iter().filter_map(split).collect();
    let new: std::collections::BTreeMap<String, String> = after.iter().filter_map(split).collect();
    let mut out = Vec::new();
    for (name, version) in &new {
        match old.get(name) {
            Some(was) if was != version => out.push(format!("{name} {was} -> {version}")),
            None => out.push(format!("{name} (new) {version}")),
            _ => {}
        }
    }
    for name in old.keys().filter(|n| !new.contains_key(*n)) {
        out.push(format!("{name} removed"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_name_each_package_once() {
        let before = ["a 1".to_string(), "b 1".into(), "c 1".into()];
        let after = ["a 2".to_string(), "b 1".into(), "d 1".into()];
        assert_eq!(
            changes(&before, &after),
            ["a 1 -> 2", "d (new) 1", "c removed"]
        );
    }
}
