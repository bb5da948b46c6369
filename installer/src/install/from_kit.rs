//! An install from a recovery kit: the kit found, opened and held against
//! this install, and the cloud backup opened with its password, all before
//! the first disk is written. After the system is unpacked the kit's state
//! goes back in, then the backup's files into the new datasets.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use super::fetch;
use crate::answer::Answer;
use crate::inventory::Inventory;
use crate::kept::kit::{self, Kit};
use crate::kept::restore;
use crate::plan::{Plan, PoolAction, Restore};
use crate::runner::Runner;
use crate::services::restic;

/// The kit opened, and restic's environment when it restores data.
pub struct FromKit {
    pub source: String,
    pub kit: Kit,
    restic: Option<Vec<(String, String)>>,
    data: Vec<PathBuf>,
}

/// Opens and checks the plan's kit; none when the plan restores no kit.
/// `beside` is where a kit named by file name lies (the answer's folder).
pub fn prepare(
    plan: &Plan,
    answer: &Answer,
    beside: &Path,
    inventory: &Inventory,
    runner: &Runner,
) -> Result<Option<FromKit>> {
    let Some(Restore::Kit { source, data }) = &plan.state.restore else {
        return Ok(None);
    };
    let refused = |why: String| anyhow::anyhow!("{why}; nothing was written");
    if source.contains("://") || !data.is_empty() {
        super::network::up(runner, Duration::from_secs(90))
            .map_err(|e| refused(format!("{e:#}")))?;
    }
    let bytes = read(source, answer, beside).map_err(|e| refused(format!("{e:#}")))?;
    let passphrase = answer
        .recovery_kit_passphrase
        .as_deref()
        .unwrap_or_default();
    let kit = kit::open(bytes.as_slice(), passphrase)
        .map_err(|e| refused(format!("recovery kit {source}: {e:#}")))?;
    same_server(plan, &kit, inventory).map_err(|e| refused(format!("{e:#}")))?;
    let restic = match data.is_empty() {
        true => None,
        false => Some(open_backup(&kit, runner).map_err(|e| refused(format!("{e:#}")))?),
    };
    runner.note(&format!(
        "recovery kit {source}: host {}, made {} by {}, {} entries; it opens and matches this install",
        kit.info.hostname,
        kit.info.made_at,
        kit.info.made_by,
        kit.manifest.entries.len()
    ));
    Ok(Some(FromKit {
        source: source.clone(),
        kit,
        restic,
        data: data.clone(),
    }))
}

fn read(source: &str, answer: &Answer, beside: &Path) -> Result<Vec<u8>> {
    if source.starts_with("http://") || source.starts_with("https://") {
        let request = fetch::Request {
            url: source.to_string(),
            sha256: answer.recovery_kit_sha256.clone(),
            deadline: Duration::from_secs(120),
            ..fetch::Request::default()
        };
        let fetched = fetch::fetch(&request)
            .with_context(|| format!("fetching the recovery kit {source}"))?;
        return match fetched {
            fetch::Fetched::Answer(bytes) => Ok(bytes),
            fetch::Fetched::NoAnswer(why) | fetch::Fetched::Refused(why) => {
                bail!("fetching the recovery kit {source}: {why}")
            }
        };
    }
    let path = beside.join(source);
    let bytes = fs::read(&path).with_context(|| {
        format!("the recovery kit {} is not there (it lies beside the answer, on the ISO or the HEARTH partition)", path.display())
    })?;
    if let Some(pin) = &answer.recovery_kit_sha256 {
        if hearth_system::files::sha256(&bytes) != pin.to_lowercase() {
            bail!(
                "the recovery kit {} does not match recovery-kit-sha256",
                path.display()
            );
        }
    }
    Ok(bytes)
}

/// The kit is this server's: its host name, and the GUID of every pool
/// this install keeps.
fn same_server(plan: &Plan, kit: &Kit, inventory: &Inventory) -> Result<()> {
    if kit.info.hostname != plan.hostname {
        bail!(
            "the recovery kit is host {}'s, and this answer installs host {}: give the kit of {} or set hostname = \"{}\"",
            kit.info.hostname, plan.hostname, plan.hostname, kit.info.hostname
        );
    }
    for pool in plan.pools.iter().filter(|p| p.action == PoolAction::Import) {
        let Some((_, kept)) = kit
            .manifest
            .pools
            .iter()
            .find(|(name, _)| *name == pool.name)
        else {
            continue;
        };
        let found: Vec<&str> = inventory
            .disks
            .iter()
            .flat_map(|d| &d.pools)
            .filter(|l| l.pool == pool.name)
            .map(|l| l.guid.as_str())
            .collect();
        if !found.contains(&kept.as_str()) {
            bail!(
                "pool {} on these disks (GUID {}) is not the pool the kit was made with (GUID {kept}): a kit of another server, or a pool made again",
                pool.name,
                found.first().unwrap_or(&"unknown")
            );
        }
    }
    Ok(())
}

/// restic's variables from the kit's restic.env, the password in a file
/// of its own (root only, on the live system's tmpfs).
fn open_backup(kit: &Kit, runner: &Runner) -> Result<Vec<(String, String)>> {
    let file = |path: &str| {
        kit.files
            .get(Path::new(path))
            .with_context(|| format!("the kit holds no {path}: the cloud backup cannot be opened"))
    };
    let env_text = String::from_utf8_lossy(file(restic::ENV)?).to_string();
    let password = Path::new("/run/hearth/kit-restic.password");
    fs::create_dir_all("/run/hearth")?;
    hearth_system::files::write_mode(password, file(restic::PASSWORD)?, 0o600)?;
    let mut env = crate::restore_test::environment(&env_text);
    env.retain(|(name, _)| name != "RESTIC_PASSWORD_FILE" && name != "RESTIC_CACHE_DIR");
    env.push((
        "RESTIC_PASSWORD_FILE".into(),
        password.display().to_string(),
    ));
    env.push(("RESTIC_CACHE_DIR".into(), "/run/hearth/restic-cache".into()));
    let repository = env
        .iter()
        .find(|(name, _)| name == "RESTIC_REPOSITORY")
        .map_or("(none)".to_string(), |(_, v)| v.clone());
    let listed = runner
        .run_with_env("restic", &["snapshots", "--json", "latest"], &env)
        .with_context(|| {
            format!("the cloud backup repository {repository} does not open with the kit's password and credentials (is it reachable from here?)")
        })?;
    let snapshots: serde_json::Value = serde_json::from_str(&listed)?;
    if snapshots.as_array().is_none_or(Vec::is_empty) {
        bail!("the cloud backup repository {repository} opens but holds no snapshot to restore");
    }
    Ok(env)
}

impl FromKit {
    /// The raw keys the kit holds for the pools this install keeps.
    pub fn pool_keys(&self, plan: &Plan) -> BTreeMap<String, Vec<u8>> {
        let mut keys = BTreeMap::new();
        for pool in plan.pools.iter().filter(|p| p.action == PoolAction::Import) {
            let path = PathBuf::from(crate::services::encryption::key_file(&pool.name));
            let entry = self.kit.manifest.entries.iter().find(|e| e.path == path);
            if let Some(bytes) = entry.and_then(|e| self.kit.content(e).ok()) {
                keys.insert(pool.name.clone(), bytes);
            }
        }
        keys
    }

    /// The kit's state into the unpacked system.
    pub fn restore_state(&self, plan: &Plan, target: &Path, runner: &Runner) -> Result<()> {
        let restored = restore::put_back(
            &plan.state,
            &plan.hostname,
            target,
            &self.kit.manifest,
            |e| self.kit.content(e),
        )?;
        runner.note(&restored.report(&format!("the recovery kit {}", self.source)));
        Ok(())
    }

    /// The latest snapshot's files of each backup path, into the new
    /// datasets mounted below `target`; what came back, and what did not.
    pub fn restore_data(&self, target: &Path, runner: &Runner) -> Result<()> {
        let Some(env) = &self.restic else {
            return Ok(());
        };
        let mut args = vec!["restore", "latest", "--target"];
        let shown = target.display().to_string();
        args.push(&shown);
        let paths: Vec<String> = self.data.iter().map(|p| p.display().to_string()).collect();
        for path in &paths {
            args.extend(["--include", path.as_str()]);
        }
        runner.run_with_env("restic", &args, env)?;
        let mut report = String::from("restored from the cloud backup:");
        for path in &self.data {
            let (files, bytes) = count(&crate::services::first_boot::under(target, path));
            if files == 0 {
                report.push_str(&format!(
                    "\n  {}: nothing (not in the latest snapshot)",
                    path.display()
                ));
            } else {
                report.push_str(&format!(
                    "\n  {}: {files} file(s), {bytes} bytes",
                    path.display()
                ));
            }
        }
        runner.note(&report);
        Ok(())
    }
}

/// Regular files below `dir` and their bytes.
fn count(dir: &Path) -> (u64, u64) {
    let mut total = (0, 0);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            match entry.metadata() {
                Ok(meta) if meta.is_dir() => stack.push(entry.path()),
                Ok(meta) if meta.is_file() => {
                    total.0 += 1;
                    total.1 += meta.len();
                }
                _ => {}
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::kept::kit::Info;
    use crate::kept::tree::Manifest;

    /// homelab on the fixture machine whose boot disks died: tank is kept.
    fn reprovision() -> (Plan, Inventory) {
        let dir = Path::new("tests/fixtures/machines/reprovision");
        let inventory =
            crate::prepare::read_inventory(&dir.join("inventory.json")).expect("inventory");
        let plan = crate::prepare::plan_from_files(
            Path::new("../profiles/homelab.toml"),
            Some(&dir.join("answer.toml")),
            &inventory,
        )
        .expect("plan");
        (plan, inventory)
    }

    fn kit(hostname: &str, tank: &str) -> Kit {
        Kit {
            info: Info {
                format: 1,
                hostname: hostname.into(),
                fqdn: format!("{hostname}.home.arpa"),
                profile: "homelab".into(),
                made_at: 1,
                made_by: "test".into(),
            },
            manifest: Manifest {
                hostname: hostname.into(),
                pools: vec![("rpool".into(), "1".into()), ("tank".into(), tank.into())],
                kept_at: 1,
                entries: Vec::new(),
            },
            files: BTreeMap::new(),
        }
    }

    #[test]
    fn a_kit_is_held_against_the_host_name_and_the_kept_pools() {
        let (plan, inventory) = reprovision();
        let guid = "6015293729471893471";
        same_server(&plan, &kit("reprovision", guid), &inventory).expect("the server's own kit");
        let other_host = same_server(&plan, &kit("elsewhere", guid), &inventory).expect_err("host");
        assert!(
            format!("{other_host}").contains("is host elsewhere's"),
            "{other_host}"
        );
        let other_pool =
            same_server(&plan, &kit("reprovision", "42"), &inventory).expect_err("pool");
        let text = format!("{other_pool}");
        assert!(
            text.contains("pool tank on these disks (GUID 6015293729471893471)"),
            "{text}"
        );
        assert!(text.contains("(GUID 42)"), "{text}");
    }
}
