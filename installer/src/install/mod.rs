//! Carrying out a plan on the live system: disks, pools and datasets, the
//! system unpacked from the live medium and configured, the bootloader on
//! every root disk, then the pools exported. Each step is logged through
//! the runner; a failure leaves nothing mounted or imported.

pub mod boot;
mod early;
mod fallback;
pub mod fetch;
pub mod from_kit;
mod keys;
mod machine_key;
pub mod network;
mod pools;
pub mod source;
mod system;

pub use hearth_system::mounts;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};

use crate::disk;
use crate::medium::Share;
use crate::plan::Plan;
use crate::plan::ALTROOT;
use crate::runner::Runner;
use crate::steps::Steps;
use from_kit::FromKit;

/// Where the live system's pieces are.
pub struct Medium {
    /// Where the ISO is mounted (its layout: `hearth_system::medium`).
    pub root: PathBuf,
    /// The installer binary to carry over.
    pub installer: PathBuf,
    /// The live system's Hearth layer: profiles, apps, what the base carries.
    pub share: Share,
    /// The install log, copied to /var/log/hearth/install.log on the target.
    pub log: Option<PathBuf>,
    /// The answer installed from, kept (root only) for the recovery kit.
    pub answer: Option<PathBuf>,
}

impl Medium {
    pub fn running() -> Medium {
        Medium {
            root: PathBuf::from("/run/live/medium"),
            installer: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/usr/bin/hearth")),
            share: Share::live(),
            log: None,
            answer: None,
        }
    }
}

pub fn install(plan: &Plan, medium: &Medium, kit: Option<&FromKit>, runner: &Runner) -> Result<()> {
    let target = Path::new(ALTROOT);
    // The live system is the target's base: what it lacks, the target lacks.
    system::check_locale(plan, Path::new("/"))?;
    early::firewall_loads(plan, runner)?;
    let mut step = Steps::new(runner);
    run_step(&mut step, "partition the disks", || {
        disk::partition_for_install(
            plan,
            runner,
            &disk::Options {
                wait: Some(Duration::from_secs(30)),
            },
        )
    })?;
    let mut pools = pools::Imported::default();
    pools.kit_keys = kit.map(|k| k.pool_keys(plan)).unwrap_or_default();
    let result = (|| -> Result<()> {
        run_step(&mut step, "create pools and datasets", || {
            pools.create(plan, runner)
        })?;
        run_step(&mut step, "unpack the system", || {
            system::unpack(medium, target, runner)
        })?;
        pools.record_cache(plan, target, runner)?;
        let mut binds = mounts::Binds::new(target, runner)?;
        let configured = (|| -> Result<()> {
            run_step(&mut step, "configure the system", || {
                system::configure(plan, medium, target, runner)
            })?;
            // After the accounts exist: owners are restored by name.
            match kit {
                Some(kit) => {
                    run_step(&mut step, "restore the state from the recovery kit", || {
                        kit.restore_state(plan, target, runner)
                    })?;
                    run_step(&mut step, "restore the data from the cloud backup", || {
                        kit.restore_data(target, runner)
                    })?;
                }
                None if plan.state.restore.is_some() => {
                    run_step(&mut step, "restore the kept state", || {
                        crate::kept::restore::install_step(plan, target, runner)
                    })?;
                }
                None => {}
            }
            run_step(
                &mut step,
                "install the bootloader on every root disk",
                || boot::install(plan, target, runner),
            )
        })();
        binds.close()?;
        configured?;
        if let Some(log) = &medium.log {
            let dir = target.join("var/log/hearth");
            std::fs::create_dir_all(&dir)?;
            std::fs::copy(log, dir.join("install.log"))?;
        }
        Ok(())
    })();
    let closed = pools.close(runner);
    result?;
    closed?;
    disk::finish(plan, runner)?;
    runner.note(&format!(
        "install finished in {:.0}s",
        step.total().as_secs_f64()
    ));
    Ok(())
}

/// One step of the install, announced on the consoles first (a person
/// watching, and a test that cuts the install off at a step, see it).
fn run_step<T>(step: &mut Steps, name: &str, work: impl FnOnce() -> Result<T>) -> Result<T> {
    crate::console::mark(&format!("HEARTH-STEP {name}"));
    step.run(name, work)
}

/// An unattended install from an answer file: the profile it names (or the
/// ISO's default), this machine's disks, the plan printed, then carried out.
/// Beside the install log: what the plan does to the disks, for the report.
pub const SUMMARY: &str = "plan-summary.json";

/// Writes the plan's summary beside the log (the live system's report
/// reads it, whatever becomes of the install).
fn keep_summary(plan: &Plan, medium: &Medium) -> Result<()> {
    let Some(dir) = medium.log.as_deref().and_then(Path::parent) else {
        return Ok(());
    };
    let summary = crate::fleet::report::Summary::of(plan);
    std::fs::write(dir.join(SUMMARY), serde_json::to_string_pretty(&summary)?)?;
    Ok(())
}

pub fn unattended(answer: &Path, medium: &Medium, runner: &Runner) -> Result<Plan> {
    let profile = profile_for(answer, &medium.share)?;
    // Before the disks are even read: a profile this medium cannot install.
    let loaded = crate::load::profile(&profile).map_err(|p| anyhow::anyhow!("{p}"))?;
    let packages = crate::services::packages(&loaded.value);
    medium.share.check_carries(&loaded.value.name, &packages)?;
    let inventory = crate::inventory::probe()?;
    let plan = crate::prepare::plan_from_files(&profile, Some(answer), &inventory)
        .map_err(|p| anyhow::anyhow!("{p}"))?;
    runner.note(&crate::plan::render(&plan));
    keep_summary(&plan, medium)?;
    // A kit is opened and checked here, before the first write.
    let given = crate::load::answer(answer, &loaded.value).map_err(|p| anyhow::anyhow!("{p}"))?;
    let beside = answer.parent().unwrap_or(Path::new("/"));
    let kit = from_kit::prepare(&plan, &given.value, beside, &inventory, runner)?;
    keys_at_hand(&plan, kit.as_ref())?;
    install(&plan, medium, kit.as_ref(), runner)?;
    Ok(plan)
}

/// Every key the install needs is at hand before the first write: nobody
/// is there to type a passphrase, and a kept pool needs its key.
pub fn keys_at_hand(plan: &Plan, kit: Option<&FromKit>) -> Result<()> {
    use crate::plan::keys::{key_secret, passphrase_secret};
    use crate::profile::KeySource;
    let kit_keys = kit.map(|k| k.pool_keys(plan)).unwrap_or_default();
    for pool in &plan.pools {
        let Some(key) = &pool.encryption else {
            continue;
        };
        let name = &pool.name;
        let given = match key.key {
            KeySource::Passphrase => plan.secrets.contains_key(&passphrase_secret(name)),
            KeySource::Generate if pool.action == crate::plan::PoolAction::Create => true,
            _ => plan.secrets.contains_key(&key_secret(name)) || kit_keys.contains_key(name),
        };
        if !given {
            let what = match key.key {
                KeySource::Passphrase => "passphrase (or passphrase-file)",
                _ => "key-file (a raw 32-byte key), or install from the recovery kit that holds it",
            };
            anyhow::bail!(
                "pool {name} is encrypted and this unattended install has no key for it: give {what} under [pools.{name}] in the answer; nothing was written"
            );
        }
    }
    Ok(())
}

/// `hearth install`: from an answer (planned here) or a confirmed plan;
/// a failure is noted in the log on one line, for the console to show.
pub fn from_files(
    answer: Option<&Path>,
    plan: Option<&Path>,
    log: &Path,
    runner: &Runner,
) -> Result<()> {
    let mut medium = Medium::running();
    medium.log = Some(log.to_path_buf());
    // The interactive install writes its answer beside the confirmed plan.
    let beside_plan = plan.and_then(Path::parent).map(|d| d.join("answer.toml"));
    medium.answer = answer
        .map(Path::to_path_buf)
        .or(beside_plan.filter(|p| p.is_file()));
    let result = match (answer, plan) {
        (Some(answer), _) => unattended(answer, &medium, runner),
        (None, Some(plan)) => confirmed(plan, &medium, runner),
        (None, None) => Err(anyhow::anyhow!("install needs --answer or --plan")),
    };
    if let Err(err) = &result {
        runner.note(&format!(
            "error: the install failed: {}",
            format!("{err:#}").replace('\n', " | ")
        ));
    }
    result.map(drop)
}

/// Installs a plan made and confirmed earlier (the interactive install's),
/// once the disks are checked to be the ones it was made for.
pub fn confirmed(plan: &Path, medium: &Medium, runner: &Runner) -> Result<Plan> {
    let plan = crate::prepare::read_plan(plan)?;
    medium.share.check_carries(&plan.profile, &plan.packages)?;
    let changes = crate::plan::drift(&plan, &crate::inventory::probe()?);
    if !changes.is_empty() {
        anyhow::bail!(
            "the disks changed since the plan was confirmed, so nothing was written: {}",
            changes.join("; ")
        );
    }
    if matches!(plan.state.restore, Some(crate::plan::Restore::Kit { .. })) {
        anyhow::bail!("an install from a recovery kit is unattended: give recovery-kit in an answer file; nothing was written");
    }
    runner.note(&crate::plan::render(&plan));
    keep_summary(&plan, medium)?;
    keys_at_hand(&plan, None)?;
    install(&plan, medium, None, runner)?;
    Ok(plan)
}

/// The profile an answer names (a shipped name or a path), else the default.
pub fn profile_for(answer: &Path, share: &Share) -> Result<PathBuf> {
    let text =
        std::fs::read_to_string(answer).with_context(|| format!("reading {}", answer.display()))?;
    let named = text
        .parse::<toml::Table>()
        .ok()
        .and_then(|t| t.get("profile").and_then(|v| v.as_str()).map(String::from));
    let name = match named {
        Some(name) if name.contains('/') => return Ok(PathBuf::from(name)),
        Some(name) => name,
        None => std::fs::read_to_string(share.default_profile())
            .map(|s| s.trim().to_string())
            .context("no profile named in the answer and no default profile on this medium")?,
    };
    Ok(share.profile(&name))
}
