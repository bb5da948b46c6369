//! Housekeeping: snapshots named for what took them, the oldest beyond the
//! profile's count destroyed; environments destroyed (their clones
//! promoted first), never the running or the default one.

use anyhow::{bail, Result};

use super::envs::{self, Snapshot};
use crate::runner::Runner;
use crate::services::boot_env::Config;

/// `DATASET@KIND-<stamp>`, with a suffix if that one exists.
pub fn fresh_snapshot(dataset: &str, kind: &str, runner: &Runner) -> Result<String> {
    let taken = envs::snapshots(dataset, runner)?;
    let base = format!(
        "{dataset}@{kind}-{}",
        super::clock::stamp(hearth_system::runner::epoch_seconds())
    );
    let mut name = base.clone();
    let mut n = 2;
    while taken.iter().any(|s| s.full == name) {
        name = format!("{base}-{n}");
        n += 1;
    }
    Ok(name)
}

/// Keeps the newest `keep` snapshots of `kind`; those an environment was
/// cloned from stay too.
pub fn snapshots(dataset: &str, kind: &str, keep: usize, runner: &Runner) -> Result<()> {
    let prefix = format!("{dataset}@{kind}-");
    let ours: Vec<Snapshot> = envs::snapshots(dataset, runner)?
        .into_iter()
        .filter(|s| s.full.starts_with(&prefix))
        .collect();
    let extra = ours.len().saturating_sub(keep);
    for snap in ours.iter().take(extra).filter(|s| !s.has_clones) {
        runner.run("zfs", &["destroy", &snap.full])?;
    }
    Ok(())
}

/// A new environment cloned from `ENV@SNAPSHOT`; its name.
pub fn from_snapshot(pool: &str, spec: &str, runner: &Runner) -> Result<String> {
    let Some((env, snap)) = spec.split_once('@') else {
        bail!("{spec}: ENV@SNAPSHOT expected");
    };
    envs::check_name(env)?;
    envs::check_name(snap)?;
    let name = format!("{env}-{snap}");
    envs::check_name(&name)?;
    if envs::list(pool, runner)?.iter().any(|e| e.name == name) {
        bail!("{name} exists already: hearth rollback {name}");
    }
    envs::clone(
        &format!("{pool}/ROOT/{spec}"),
        &format!("{pool}/ROOT/{name}"),
        runner,
    )?;
    Ok(name)
}

/// Its clones promoted first, so the datasets cloned from it stay.
pub fn destroy_env(pool: &str, name: &str, runner: &Runner) -> Result<()> {
    let dataset = format!("{pool}/ROOT/{name}");
    for snap in envs::snapshots(&dataset, runner)? {
        if !snap.has_clones {
            continue;
        }
        let (_, clones) =
            runner.query("zfs", &["get", "-H", "-o", "value", "clones", &snap.full])?;
        if let Some(clone) = clones.trim().split(',').find(|c| !c.is_empty()) {
            runner.run("zfs", &["promote", clone])?;
        }
    }
    runner.run("zfs", &["destroy", "-r", &dataset])?;
    Ok(())
}

/// The oldest environments beyond `keep`, never one of `spare`.
pub fn environments(config: &Config, spare: &[&str], runner: &Runner) -> Result<Vec<String>> {
    let all = envs::list(&config.pool, runner)?;
    let keep = config.keep as usize;
    let mut gone = Vec::new();
    let mut left = all.len();
    for env in all.iter().rev() {
        if left <= keep {
            break;
        }
        if spare.contains(&env.name.as_str()) {
            continue;
        }
        destroy_env(&config.pool, &env.name, runner)?;
        gone.push(env.name.clone());
        left -= 1;
    }
    Ok(gone)
}
