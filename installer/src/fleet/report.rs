//! The report an install sends when it ends (`[report]` in the answer):
//! who, what the plan did to the disks, versions, each step's time, and on
//! failure the error and the end of the log. Never a secret: the log holds
//! none, and the token travels only in the Authorization header.

use std::time::Duration;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use crate::answer::ReportTo;
use crate::plan::{Plan, PoolAction};

/// What the plan does to the disks, written by the install beside its log.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct Summary {
    pub hostname: String,
    pub profile: String,
    /// Each erased disk: its stable path.
    pub erased: Vec<String>,
    pub pools_created: Vec<String>,
    pub pools_kept: Vec<String>,
    pub datasets: usize,
}

impl Summary {
    pub fn of(plan: &Plan) -> Summary {
        let pools = |action: PoolAction| {
            plan.pools
                .iter()
                .filter(|p| p.action == action)
                .map(|p| p.name.clone())
                .collect()
        };
        Summary {
            hostname: plan.hostname.clone(),
            profile: plan.profile.clone(),
            erased: plan
                .erase
                .iter()
                .map(|d| d.disk.stable_path.display().to_string())
                .collect(),
            pools_created: pools(PoolAction::Create),
            pools_kept: pools(PoolAction::Import),
            datasets: plan.datasets.len(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct Report {
    pub host: String,
    pub profile: String,
    /// "done" or "failed".
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub log_tail: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<Summary>,
    pub hearth: String,
    pub kernel: String,
    pub zfs: String,
    /// Each step of the install and its seconds, as the log has them.
    pub steps: Vec<Step>,
    pub dmi_serial: String,
    pub macs: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Step {
    pub step: String,
    pub seconds: f64,
}

/// What the machine is and runs, gathered on the live system.
pub struct Machine {
    pub kernel: String,
    pub zfs: String,
    pub dmi_serial: String,
    pub macs: Vec<String>,
}

const TAIL: usize = 30;

/// The report of an install whose log is `log`; `error` is None when it
/// succeeded. `host` is the answer's when no plan was made.
pub fn build(
    host: &str,
    summary: Option<Summary>,
    error: Option<String>,
    log: &str,
    machine: Machine,
) -> Report {
    let lines: Vec<&str> = log.lines().collect();
    let log_tail = match error {
        Some(_) => lines[lines.len().saturating_sub(TAIL)..]
            .iter()
            .map(|l| l.to_string())
            .collect(),
        None => Vec::new(),
    };
    Report {
        host: summary.as_ref().map_or(host, |s| &s.hostname).to_string(),
        profile: summary
            .as_ref()
            .map(|s| s.profile.clone())
            .unwrap_or_default(),
        outcome: if error.is_some() { "failed" } else { "done" }.into(),
        error,
        log_tail,
        plan: summary,
        hearth: env!("CARGO_PKG_VERSION").into(),
        kernel: machine.kernel,
        zfs: machine.zfs,
        steps: steps(&lines),
        dmi_serial: machine.dmi_serial,
        macs: machine.macs,
    }
}

/// `[3] unpack the system: done in 85.9s` lines, in order.
fn steps(lines: &[&str]) -> Vec<Step> {
    lines
        .iter()
        .filter_map(|line| {
            let rest = line.trim_start_matches("# ").strip_prefix('[')?;
            let (_, rest) = rest.split_once("] ")?;
            let (name, time) = rest.rsplit_once(": done in ")?;
            let seconds = time.trim().strip_suffix('s')?.parse().ok()?;
            Some(Step {
                step: name.to_string(),
                seconds,
            })
        })
        .collect()
}

/// POSTs the report, trying a few times over about half a minute.
pub fn send(to: &ReportTo, report: &Report) -> Result<()> {
    let client = client(to)?;
    let mut last = None;
    for attempt in 0..4u32 {
        if attempt > 0 {
            std::thread::sleep(Duration::from_secs(2u64 << attempt));
        }
        let mut request = client
            .post(&to.url)
            .header("content-type", "application/json")
            .body(serde_json::to_vec(report)?);
        if let Some(token) = &to.token {
            request = request.bearer_auth(token);
        }
        match request.send().and_then(|r| r.error_for_status()) {
            Ok(_) => return Ok(()),
            Err(err) => last = Some(err),
        }
    }
    match last {
        Some(err) => bail!(
            "the report to {} was not taken after 4 tries: {err}",
            to.url
        ),
        None => Ok(()),
    }
}

fn client(to: &ReportTo) -> Result<reqwest::blocking::Client> {
    let builder = reqwest::blocking::Client::builder().timeout(Duration::from_secs(20));
    let builder = match &to.fingerprint {
        Some(pin) => builder.use_preconfigured_tls(super::tls::pinned_client(
            &super::tls::parse_fingerprint(pin)?,
        )?),
        None => builder,
    };
    Ok(builder.build()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine() -> Machine {
        Machine {
            kernel: "6.12".into(),
            zfs: "2.3.9".into(),
            dmi_serial: "S1".into(),
            macs: vec!["52:54:00:00:00:01".into()],
        }
    }

    #[test]
    fn steps_come_from_the_log_and_the_tail_only_on_failure() {
        let log = "$ zpool create ...\n# [1] partition the disks: done in 5.6s\n# [2] create pools and datasets: done in 9.6s\nlast line\n";
        let done = build("h", None, None, log, machine());
        assert_eq!(done.outcome, "done");
        let steps: Vec<(&str, f64)> = done
            .steps
            .iter()
            .map(|s| (s.step.as_str(), s.seconds))
            .collect();
        assert_eq!(
            steps,
            [
                ("partition the disks", 5.6),
                ("create pools and datasets", 9.6)
            ]
        );
        assert!(done.log_tail.is_empty());
        let failed = build("h", None, Some("no disk".into()), log, machine());
        assert_eq!(failed.outcome, "failed");
        assert_eq!(
            failed.log_tail.last().map(String::as_str),
            Some("last line")
        );
        assert_eq!(failed.host, "h");
    }
}
