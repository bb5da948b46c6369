//! Encryption keys during the install: raw keys written where the pools'
//! keylocation points (the live system's RAM, then the target's root-only
//! /etc/zfs/keys), passphrases fed on stdin, never logged; kept pools'
//! keys loaded before anything of theirs mounts.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::load::KEY_LEN;
use crate::plan::keys::{key_secret, passphrase_secret};
use crate::plan::{Plan, PoolAction, PoolPlan};
use crate::profile::KeySource;
use crate::runner::Runner;
use crate::services::encryption::{key_file, KEY_DIR};
use hearth_system::files::write_mode;

/// Raw keys of kept pools from the recovery kit, by pool name.
pub type KitKeys = BTreeMap<String, Vec<u8>>;

/// Makes or writes a new pool's raw key before `zpool create` reads it;
/// returns what zpool must get on stdin (a passphrase), if anything.
pub fn before_create(plan: &Plan, pool: &PoolPlan) -> Result<Option<String>> {
    let Some(key) = &pool.encryption else {
        return Ok(None);
    };
    match key.key {
        KeySource::Passphrase => {
            let Some(passphrase) = plan.secrets.get(&passphrase_secret(&pool.name)) else {
                bail!(
                    "pool {} needs its passphrase and the plan has none",
                    pool.name
                );
            };
            Ok(Some(format!("{passphrase}\n")))
        }
        KeySource::Generate => {
            let bytes = crate::runner::random_bytes::<KEY_LEN>()?;
            put_live(&pool.name, &bytes)?;
            Ok(None)
        }
        KeySource::File => {
            let bytes = given_key(plan, &pool.name)?
                .with_context(|| format!("pool {} needs the answer's key-file", pool.name))?;
            put_live(&pool.name, &bytes)?;
            Ok(None)
        }
    }
}

/// Loads every key a kept pool needs, from the answer or the kit; a pool
/// whose key is still missing stops the install before it mounts.
pub fn load_kept(plan: &Plan, pool: &PoolPlan, kit: &KitKeys, runner: &Runner) -> Result<()> {
    debug_assert_eq!(pool.action, PoolAction::Import);
    if let Some(passphrase) = plan.secrets.get(&passphrase_secret(&pool.name)) {
        runner.run_with_input("zfs", &["load-key", &pool.name], &format!("{passphrase}\n"))?;
    } else if let Some(bytes) =
        given_key(plan, &pool.name)?.or_else(|| kit.get(&pool.name).cloned())
    {
        put_live(&pool.name, &bytes)?;
        runner.run("zfs", &["load-key", "-r", &pool.name])?;
    }
    let locked = locked(&pool.name, runner)?;
    if !locked.is_empty() {
        bail!(
            "kept pool {} is encrypted and the key of {} is not loaded: give key-file (or passphrase) under [pools.{}] in the answer, or install from the recovery kit",
            pool.name,
            locked.join(", "),
            pool.name
        );
    }
    Ok(())
}

/// Encryption roots of a pool whose key is not loaded.
fn locked(pool: &str, runner: &Runner) -> Result<Vec<String>> {
    let out = runner.run(
        "zfs",
        &["get", "-H", "-r", "-o", "name,value", "keystatus", pool],
    )?;
    Ok(out
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .filter(|(_, status)| status.trim() == "unavailable")
        .map(|(name, _)| name.to_string())
        .collect())
}

/// The installed system gets the keys of every pool keyed by a file.
pub fn copy_to_target(plan: &Plan, target: &Path) -> Result<()> {
    for pool in &plan.pools {
        let Some(file) = pool.encryption.as_ref().and_then(|k| k.key_file.as_ref()) else {
            continue;
        };
        let live = Path::new(file);
        if !live.is_file() {
            continue;
        }
        let bytes = fs::read(live).with_context(|| format!("reading {file}"))?;
        let dir = target.join(KEY_DIR.trim_start_matches('/'));
        create_private_dir(&dir)?;
        write_mode(&target.join(file.trim_start_matches('/')), &bytes, 0o400)?;
    }
    Ok(())
}

fn given_key(plan: &Plan, pool: &str) -> Result<Option<Vec<u8>>> {
    let Some(hex) = plan.secrets.get(&key_secret(pool)) else {
        return Ok(None);
    };
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
        })
        .collect();
    match bytes {
        Some(bytes) if bytes.len() == KEY_LEN => Ok(Some(bytes)),
        _ => bail!("the plan's key of pool {pool} is not 32 bytes of hex"),
    }
}

/// Where the pool's keylocation points on the live system (RAM).
fn put_live(pool: &str, bytes: &[u8]) -> Result<()> {
    create_private_dir(Path::new(KEY_DIR))?;
    write_mode(Path::new(&key_file(pool)), bytes, 0o400)
        .with_context(|| format!("writing {}", key_file(pool)))
}

fn create_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::create_dir_all(dir)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    Ok(())
}
