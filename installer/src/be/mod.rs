//! Boot environments on the installed system (`hearth be`, `hearth
//! upgrade`, `hearth rollback`): each a dataset under `<pool>/ROOT/`, each
//! on every ESP with its own kernel, initrd and menu entry, the default and
//! the fallback in every ESP's GRUB environment block.

pub mod clock;
pub mod envs;
pub mod esp;
mod lock;
pub mod menu;
mod prune;
pub mod sources;
pub mod space;
mod upgrade;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

pub use crate::services::boot_env::Config;
use crate::services::boot_env::{CONFIG, ESPS_PROPERTY};
use esp::{EnvBoot, MountedEsp};
use menu::BootState;

use crate::runner::Runner;
pub use upgrade::upgrade;

pub fn config() -> Result<Config> {
    let text = std::fs::read_to_string(CONFIG)
        .with_context(|| format!("reading {CONFIG} (is this an installed Hearth server?)"))?;
    serde_json::from_str(&text).with_context(|| format!("{CONFIG} is not valid"))
}

/// The UUIDs of every ESP of the root disks.
pub fn esp_uuids(pool: &str, runner: &Runner) -> Result<Vec<String>> {
    let (_, out) = runner.query(
        "zfs",
        &[
            "get",
            "-H",
            "-o",
            "value",
            ESPS_PROPERTY,
            &format!("{pool}/ROOT"),
        ],
    )?;
    Ok(out
        .trim()
        .split(',')
        .filter(|u| !u.is_empty() && *u != "-")
        .map(String::from)
        .collect())
}

pub fn set_esp_uuids(pool: &str, uuids: &[String], runner: &Runner) -> Result<()> {
    let value = format!("{ESPS_PROPERTY}={}", uuids.join(","));
    runner.run("zfs", &["set", &value, &format!("{pool}/ROOT")])?;
    Ok(())
}

/// The ESPs that are here now, mounted; those missing are named.
fn mount_present<'a>(pool: &str, runner: &'a Runner) -> Result<Vec<MountedEsp<'a>>> {
    let mut mounted = Vec::new();
    for uuid in esp_uuids(pool, runner)? {
        if !Path::new("/dev/disk/by-uuid").join(&uuid).exists() {
            eprintln!("hearth: ESP {uuid} is missing (disk removed?); skipped");
            continue;
        }
        mounted.push(MountedEsp::mount(&uuid, runner)?);
    }
    if mounted.is_empty() {
        bail!("no ESP of {pool} is present");
    }
    Ok(mounted)
}

/// What decides the boot state written to every ESP, from what they say
/// now and the running environment.
type Decide<'d> = &'d dyn Fn(&[BootState], &str) -> BootState;

/// Every present ESP brought in step with every environment; `at_hand` is
/// an environment mounted elsewhere (an upgrade's).
pub fn sync_all(
    config: &Config,
    at_hand: Option<(&str, &Path)>,
    decide: Decide,
    runner: &Runner,
) -> Result<BootState> {
    let pool = &config.pool;
    let _lock = lock::Lock::take()?;
    let running = envs::running(pool)?;
    let all = envs::list(pool, runner)?;
    let esps = mount_present(pool, runner)?;
    let states: Vec<BootState> = esps.iter().map(|e| esp::read_state(&e.dir)).collect();
    let mut state = decide(&states, &running);
    let exists = |name: &str| all.iter().any(|e| e.name == name);
    if !exists(&state.default) {
        state.default = running.clone();
    }
    if !exists(&state.fallback) {
        state.fallback.clear();
    }
    let mut hand = vec![(running.clone(), PathBuf::from("/"))];
    hand.extend(at_hand.map(|(n, p)| (n.to_string(), p.to_path_buf())));
    let mut roots = sources::Roots::new(hand);
    let mut boots = Vec::new();
    for env in &all {
        let root = roots.root(pool, &env.name, runner)?;
        let Ok((kernel, initrd)) = envs::kernel(&root) else {
            eprintln!(
                "hearth: {} has no kernel with an initrd; left off the menu",
                env.name
            );
            continue;
        };
        let protected = [&running, &state.default, &state.fallback].contains(&&env.name)
            || at_hand.is_some_and(|(n, _)| n == env.name);
        boots.push(EnvBoot {
            name: env.name.clone(),
            created: env.created,
            kernel,
            initrd,
            cmdline: config.cmdline(&env.name),
            protected,
        });
    }
    let mut failed = Vec::new();
    for esp in &esps {
        match esp::sync_dir(&esp.dir, &esp.uuid, &boots, &state, runner) {
            Ok(done) => report(&esp.uuid, &done),
            Err(err) => failed.push(format!("{err:#}")),
        }
    }
    if !failed.is_empty() {
        bail!("{}", failed.join("\n"));
    }
    Ok(state)
}

fn report(uuid: &str, done: &esp::Synced) {
    let mut line = format!("ESP {uuid}: {}", done.listed.join(" "));
    if !done.copied.is_empty() {
        line.push_str(&format!("; copied {}", done.copied.join(" ")));
    }
    if !done.removed.is_empty() {
        line.push_str(&format!("; removed {}", done.removed.join(" ")));
    }
    println!("{line}");
}

/// The state as the ESPs hold it (the first one's, they agree).
fn unchanged(states: &[BootState], running: &str) -> BootState {
    states.first().cloned().unwrap_or_else(|| BootState {
        default: running.into(),
        ..BootState::default()
    })
}

/// `hearth be sync`: run by the kernel and initramfs hooks.
pub fn sync(runner: &Runner) -> Result<()> {
    if envs::in_chroot() {
        println!("hearth be sync: in a chroot; the install or upgrade syncs the ESPs itself");
        return Ok(());
    }
    sync_all(&config()?, None, &unchanged, runner).map(|_| ())
}

/// `hearth be boot-ok`: this boot reached multi-user.
pub fn boot_ok(runner: &Runner) -> Result<()> {
    let config = config()?;
    let state = sync_all(&config, None, &menu::after_boot, runner)?;
    let running = envs::running(&config.pool)?;
    match state.failed.is_empty() {
        true => println!(
            "boot environment {running} is up; {} boots next",
            state.default
        ),
        false => println!(
            "boot environment {} never reached multi-user; {running} is the default again",
            state.failed
        ),
    }
    Ok(())
}

/// `hearth be deadline`: a trial boot that is not in multi-user by now
/// restarts, and GRUB then boots the fallback.
pub fn deadline(runner: &Runner) -> Result<()> {
    let (code, _) = runner.query("systemctl", &["is-active", "--quiet", "multi-user.target"])?;
    if code == Some(0) {
        println!("multi-user reached in time");
        return Ok(());
    }
    eprintln!("hearth: this trial boot never reached multi-user; restarting into the previous environment");
    runner.run("systemctl", &["reboot"])?;
    Ok(())
}

/// `hearth be snapshot --before-apt`: the APT hook.
pub fn snapshot_before_apt(runner: &Runner) -> Result<()> {
    // The installer's and an upgrade's chroots snapshot nothing.
    if envs::in_chroot() || !Path::new(CONFIG).exists() {
        return Ok(());
    }
    let config = config()?;
    if config.snapshots == 0 {
        return Ok(());
    }
    let dataset = format!("{}/ROOT/{}", config.pool, envs::running(&config.pool)?);
    let name = prune::fresh_snapshot(&dataset, "apt", runner)?;
    runner.run("zfs", &["snapshot", &name])?;
    eprintln!("hearth: snapshot {name} before dpkg runs");
    prune::snapshots(&dataset, "apt", config.snapshots as usize, runner)
}

/// `hearth rollback [NAME | ENV@SNAPSHOT]`: an older environment (by
/// default the fallback, else the one before the default) boots next, on
/// every ESP.
pub fn rollback(target: Option<&str>, runner: &Runner) -> Result<()> {
    let config = config()?;
    let pool = &config.pool;
    let all = envs::list(pool, runner)?;
    let target = match target {
        Some(spec) if spec.contains('@') => prune::from_snapshot(pool, spec, runner)?,
        Some(name) => {
            if !all.iter().any(|e| e.name == name) {
                bail!("no boot environment {name} (hearth be list)");
            }
            name.to_string()
        }
        None => previous(&config, &all, runner)?,
    };
    let state = BootState::activate(&target, None);
    sync_all(&config, None, &|_, _| state.clone(), runner)?;
    println!("hearth rollback: {target} boots from the next boot on, on every ESP present; reboot to use it");
    Ok(())
}

/// The fallback, else the environment made just before the default.
fn previous(config: &Config, all: &[envs::Env], runner: &Runner) -> Result<String> {
    let state = current_state(config, runner)?;
    if !state.fallback.is_empty() && all.iter().any(|e| e.name == state.fallback) {
        return Ok(state.fallback);
    }
    let at = all
        .iter()
        .position(|e| e.name == state.default)
        .unwrap_or(0);
    match all.get(at + 1) {
        Some(env) => Ok(env.name.clone()),
        None => bail!(
            "{} is the oldest boot environment: nothing to roll back to",
            state.default
        ),
    }
}

/// The boot state, as the first present ESP holds it.
pub fn current_state(config: &Config, runner: &Runner) -> Result<BootState> {
    let esps = mount_present(&config.pool, runner)?;
    let states: Vec<BootState> = esps.iter().map(|e| esp::read_state(&e.dir)).collect();
    Ok(unchanged(&states, &envs::running(&config.pool)?))
}

/// `hearth be destroy NAME`
pub fn destroy(name: &str, runner: &Runner) -> Result<()> {
    envs::check_name(name)?;
    let config = config()?;
    let state = current_state(&config, runner)?;
    refuse_in_use(&config, name, &state, runner)?;
    prune::destroy_env(&config.pool, name, runner)?;
    sync_all(&config, None, &unchanged, runner)?;
    println!("boot environment {name} destroyed");
    Ok(())
}

fn refuse_in_use(config: &Config, name: &str, state: &BootState, runner: &Runner) -> Result<()> {
    if !envs::list(&config.pool, runner)?
        .iter()
        .any(|e| e.name == name)
    {
        bail!("no boot environment {name} (hearth be list)");
    }
    if envs::running(&config.pool)? == name {
        bail!("{name} is running: boot another one first");
    }
    if state.default == name {
        bail!("{name} boots next: make another the default first (hearth rollback NAME)");
    }
    Ok(())
}

/// What `hearth status` shows of the boot environments.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct BootStatus {
    pub running: String,
    pub default: String,
    pub trial: String,
    pub failed: String,
    pub esps_present: usize,
    pub esps_listed: usize,
}

/// None where there are no boot environments (not a Hearth root).
pub fn status() -> Option<BootStatus> {
    let runner = Runner::new(None, false).ok()?;
    let config = config().ok()?;
    let running = envs::running(&config.pool).ok()?;
    let listed = esp_uuids(&config.pool, &runner).ok()?.len();
    let esps = mount_present(&config.pool, &runner).ok()?;
    let states: Vec<BootState> = esps.iter().map(|e| esp::read_state(&e.dir)).collect();
    let state = unchanged(&states, &running);
    Some(BootStatus {
        running,
        default: state.default,
        trial: state.trial,
        failed: state.failed,
        esps_present: esps.len(),
        esps_listed: listed,
    })
}

/// `hearth be list`
pub fn list(runner: &Runner) -> Result<()> {
    let config = config()?;
    let running = envs::running(&config.pool)?;
    let state = current_state(&config, runner)?;
    print!(
        "{}",
        table(&envs::list(&config.pool, runner)?, &running, &state)
    );
    Ok(())
}

fn table(all: &[envs::Env], running: &str, state: &BootState) -> String {
    let mut out = format!(
        "{:<28} {:<6} {:<17} {:>8}\n",
        "NAME", "ACTIVE", "MADE", "USED"
    );
    for env in all {
        let mut flags = String::new();
        for (flag, name) in [
            ("R", running),
            ("N", &state.default),
            ("F", &state.fallback),
            ("X", &state.failed),
        ] {
            if env.name == name {
                flags.push_str(flag);
            }
        }
        out.push_str(&format!(
            "{:<28} {:<6} {:<17} {:>7}M\n",
            env.name,
            flags,
            clock::minute(env.created),
            env.used >> 20
        ));
    }
    out.push_str("R running, N boots next, F fallback if N fails, X failed to boot\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_marks_running_next_fallback_and_failed() {
        let env = |name: &str, created| envs::Env {
            name: name.into(),
            created,
            used: 5 << 20,
        };
        let all = [env("broken", 300), env("new", 200), env("hearth", 100)];
        let state = BootState {
            default: "new".into(),
            fallback: "hearth".into(),
            trial: "new".into(),
            failed: "broken".into(),
        };
        let text = table(&all, "hearth", &state);
        let flags: Vec<&str> = text
            .lines()
            .skip(1)
            .take(3)
            .map(|l| l.split_whitespace().nth(1).unwrap_or(""))
            .collect();
        assert_eq!(flags, ["X", "N", "RF"], "{text}");
    }
}
