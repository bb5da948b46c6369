//! `hearth provision`: the plan's first-boot steps, carried out on the
//! running system. Each task looks before it acts, so a second run changes
//! nothing; what was done, and when, is recorded in a state file.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::plan::FirstBootStepPlan;
use crate::runner::Runner;

pub const STATE: &str = "/var/lib/hearth/provision.json";
pub const PLAN: &str = "/etc/hearth/plan.json";

pub use crate::services::provision::Outcome;

/// What the state file keeps per step: when it last changed something, and what.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    pub steps: BTreeMap<String, Record>,
    /// The admin was told that no recovery kit was made yet.
    #[serde(default)]
    pub kit_reminded: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub done_at: u64,
    pub what: String,
}

#[derive(Debug, Default)]
pub struct Summary {
    pub changed: Vec<String>,
    pub unchanged: Vec<String>,
    pub needs_admin: Vec<String>,
    pub not_built: Vec<String>,
}

impl Summary {
    pub fn report(&self) -> String {
        let mut out = String::new();
        for line in &self.changed {
            out.push_str(&format!("changed: {line}\n"));
        }
        for line in &self.needs_admin {
            out.push_str(&format!("needs you: {line}\n"));
        }
        for line in &self.not_built {
            out.push_str(&format!("not built yet, skipped: {line}\n"));
        }
        if self.changed.is_empty() {
            out.push_str(&format!(
                "nothing changed: {} step(s) already done\n",
                self.unchanged.len()
            ));
        }
        out
    }
}

/// `hearth provision`: the first-boot steps of the plan file, on this system.
pub fn run_plan_file(plan: &Path, state: &Path, runner: &Runner) -> Result<()> {
    let plan = crate::prepare::read_plan(plan)?;
    let summary = run(&plan.first_boot, Path::new("/"), state, runner);
    let reminder = remind_kit(state)?;
    // What first boot made is kept even when a later step failed.
    let kept = crate::kept::keep::on_server(&plan, runner);
    let mut report = summary?.report();
    match kept {
        Ok(Some(line)) => report.push_str(&line),
        Ok(None) => {}
        Err(err) => report.push_str(&format!("needs you: {err:#}\n")),
    }
    report.push_str(&reminder.unwrap_or_default());
    runner.note(&report);
    print!("{report}");
    Ok(())
}

/// Once, while no recovery kit was made: the state kept on the data pool
/// does not outlive the pool, and the backup's password is only here.
fn remind_kit(state_file: &Path) -> Result<Option<String>> {
    let mut state: State = match fs::read_to_string(state_file) {
        Ok(text) => serde_json::from_str(&text)?,
        Err(_) => return Ok(None),
    };
    if state.kit_reminded || Path::new(crate::kept::export::RECORD).exists() {
        return Ok(None);
    }
    state.kit_reminded = true;
    fs::write(state_file, serde_json::to_string_pretty(&state)? + "\n")?;
    Ok(Some(
        "needs you: no recovery kit was made yet; run `hearth recovery-kit -o FILE` and keep FILE off this server: without it a lost server's backups cannot be opened\n".into(),
    ))
}

/// Runs every step against the system rooted at `root` ("/" on the server).
pub fn run(
    steps: &[FirstBootStepPlan],
    root: &Path,
    state_file: &Path,
    runner: &Runner,
) -> Result<Summary> {
    let mut state: State = match fs::read_to_string(state_file) {
        Ok(text) => serde_json::from_str(&text)
            .with_context(|| format!("reading {}", state_file.display()))?,
        Err(_) => State::default(),
    };
    let mut summary = Summary::default();
    let mut waiting: Vec<&str> = Vec::new();
    for step in steps {
        let id = format!("{}: {}", step.service, step.action);
        if waiting.contains(&step.service.as_str()) {
            summary
                .needs_admin
                .push(format!("{id} (after the {} step above)", step.service));
            continue;
        }
        let outcome = crate::services::provision::apply(&step.task, root, runner)
            .with_context(|| id.clone())?;
        match outcome {
            Outcome::Changed(what) => {
                state.steps.insert(
                    id.clone(),
                    Record {
                        done_at: crate::runner::epoch_seconds(),
                        what: what.clone(),
                    },
                );
                summary.changed.push(format!("{id} ({what})"));
            }
            Outcome::Unchanged => summary.unchanged.push(id),
            Outcome::NeedsAdmin(what) => {
                waiting.push(&step.service);
                summary.needs_admin.push(format!("{id}: {what}"));
            }
            Outcome::NotBuilt => summary.not_built.push(id),
        }
    }
    if let Some(dir) = state_file.parent() {
        fs::create_dir_all(dir)?;
    }
    fs::write(state_file, serde_json::to_string_pretty(&state)? + "\n")?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::path::PathBuf;

    use super::*;
    use crate::services::Task;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("hearth-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("scratch");
        dir
    }

    fn step(task: Task) -> FirstBootStepPlan {
        FirstBootStepPlan {
            service: "test".into(),
            action: format!("{task:?}"),
            task,
        }
    }

    #[test]
    fn a_secret_is_made_once_readable_by_root_only_and_recorded() {
        let root = scratch("secret");
        let state = root.join("state.json");
        let runner = Runner::new(None, false).expect("runner");
        let steps = [step(Task::SecretFile {
            path: "/etc/hearth/restic.password".into(),
        })];
        let first = run(&steps, &root, &state, &runner).expect("first run");
        assert_eq!(first.changed.len(), 1, "{first:?}");
        let file = root.join("etc/hearth/restic.password");
        let secret = fs::read_to_string(&file).expect("secret");
        assert_eq!(secret.trim().len(), 43);
        assert!(!secret.contains(['/', '+', '=']), "{secret}");
        let mode = fs::metadata(&file).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let second = run(&steps, &root, &state, &runner).expect("second run");
        assert!(second.changed.is_empty());
        assert!(second
            .report()
            .contains("nothing changed: 1 step(s) already done"));
        assert_eq!(fs::read_to_string(&file).expect("secret"), secret);
        let recorded: State =
            serde_json::from_str(&fs::read_to_string(&state).expect("state")).expect("json");
        assert_eq!(recorded.steps.len(), 1);
        fs::remove_dir_all(&root).expect("cleanup");
    }

    #[test]
    fn wireguard_keys_are_made_on_the_target_and_match() {
        if !crate::runner::on_path("wg") {
            eprintln!("SKIP: wg (wireguard-tools) is not installed; .ci/run installs it");
            return;
        }
        let root = scratch("wg");
        let runner = Runner::new(None, false).expect("runner");
        let steps = [
            step(Task::WireguardKey {
                base: "/etc/wireguard/wg0".into(),
            }),
            step(Task::WireguardKey {
                base: "/etc/wireguard/peers/phone.anna".into(),
            }),
        ];
        let state = root.join("state.json");
        run(&steps, &root, &state, &runner).expect("first run");
        let private = fs::read_to_string(root.join("etc/wireguard/wg0.key")).expect("key");
        let public = fs::read_to_string(root.join("etc/wireguard/wg0.pub")).expect("pub");
        let derived = runner
            .run_secret("wg", &["pubkey"], Some(private.trim()))
            .expect("wg pubkey");
        assert_eq!(derived.trim(), public.trim());
        let peer = root.join("etc/wireguard/peers/phone.anna.key");
        assert!(peer.is_file(), "a dotted peer name keeps its dot");
        let second = run(&steps, &root, &state, &runner).expect("second run");
        assert!(second.changed.is_empty());
        assert_eq!(
            fs::read_to_string(root.join("etc/wireguard/wg0.key")).expect("key"),
            private
        );
        fs::remove_dir_all(&root).expect("cleanup");
    }

    #[test]
    fn steps_not_built_are_reported_and_not_recorded() {
        let root = scratch("notbuilt");
        let state = root.join("state.json");
        let runner = Runner::new(None, false).expect("runner");
        let summary = run(&[step(Task::NotBuilt)], &root, &state, &runner).expect("run");
        assert_eq!(summary.not_built.len(), 1);
        assert!(summary.report().contains("not built yet, skipped"));
        let recorded: State =
            serde_json::from_str(&fs::read_to_string(&state).expect("state")).expect("json");
        assert!(recorded.steps.is_empty());
        fs::remove_dir_all(&root).expect("cleanup");
    }
}
