//! Day-two care on the installed system: alerts from ZFS, smartd and
//! systemd sent to the receivers of /etc/hearth/alerts.json, and
//! `hearth status`, which says what needs a person.

pub mod events;
pub mod probe;
pub mod secure_boot;
pub mod send;
pub mod status;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    Critical,
    Warning,
    /// Something that needed attention no longer does.
    Resolved,
    Info,
}

impl Severity {
    pub fn word(self) -> &'static str {
        match self {
            Severity::Critical => "CRITICAL",
            Severity::Warning => "WARNING",
            Severity::Resolved => "RESOLVED",
            Severity::Info => "INFO",
        }
    }
}

/// One message to the admin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alert {
    pub severity: Severity,
    /// One line: what happened and where ("pool tank is DEGRADED").
    pub title: String,
    /// The details: what a person needs to act.
    pub message: String,
    /// What raised it: zed, smartd, systemd, hearth-status, test.
    pub source: String,
}

use std::collections::BTreeMap;

use anyhow::Result;

use crate::runner::Runner;

/// What raised the alert `hearth alert` is asked to send.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Source {
    /// A ZFS event: ZED runs this as a zedlet, with ZEVENT_* set.
    Zevent,
    /// A SMART warning: smartd runs this (-M exec), with SMARTD_* set.
    Smartd,
    /// A failed unit: its OnFailure= runs this.
    UnitFailed { unit: String },
}

/// `hearth alert SOURCE`: the event, if a person needs it, to every receiver.
pub fn alert(source: &Source) -> Result<()> {
    let runner = Runner::new(None, false)?;
    let alert = match source {
        Source::Zevent => {
            let vars = events::prefixed("ZEVENT_");
            let Some(alert) = events::zevent(&vars) else {
                return Ok(());
            };
            if let Some(key) = events::repeat_key(&vars) {
                if recently_sent(&key) {
                    return Ok(());
                }
            }
            with_pool_status(alert, vars.get("POOL").map(String::as_str))
        }
        Source::Smartd => events::smartd(&events::prefixed("SMARTD_")),
        Source::UnitFailed { unit } => {
            let journal = probe::Probe::run(
                &probe::System,
                "journalctl",
                &["-u", unit, "-n", "15", "--no-pager", "-o", "cat"],
            )
            .unwrap_or_default();
            events::unit_failed(unit, journal.trim_end())
        }
    };
    let report = send::deliver(&alert, &runner)?;
    eprint!("{report}");
    Ok(())
}

/// A pool's alert with `zpool status` beside it; a scrub that left the
/// pool unhealthy is a warning, not news.
fn with_pool_status(mut alert: Alert, pool: Option<&str>) -> Alert {
    let Some(pool) = pool.filter(|p| !p.is_empty()) else {
        return alert;
    };
    let status = probe::Probe::run(&probe::System, "zpool", &["status", pool]).unwrap_or_default();
    let healthy = probe::Probe::run(&probe::System, "zpool", &["status", "-x", pool])
        .is_some_and(|t| t.contains("is healthy"));
    if !healthy && matches!(alert.severity, Severity::Info | Severity::Resolved) {
        alert.severity = Severity::Warning;
        alert.title.push_str(", the pool is not healthy");
    }
    alert.message = format!("{}\n\n{}", alert.message, status.trim_end());
    alert
}

/// Whether an alert under `key` went out within the hour; marks it sent.
fn recently_sent(key: &str) -> bool {
    let dir = std::path::Path::new("/run/hearth/alerts");
    let mark = dir.join(key.replace('/', "_"));
    let fresh = std::fs::metadata(&mark)
        .and_then(|m| m.modified())
        .is_ok_and(|t| t.elapsed().is_ok_and(|e| e.as_secs() < 3600));
    if !fresh {
        let _ = std::fs::create_dir_all(dir);
        let _ = std::fs::write(&mark, b"");
    }
    fresh
}

/// `hearth alert-test`: a test message to every receiver, each outcome said.
pub fn alert_test() -> Result<()> {
    let runner = Runner::new(None, false)?;
    let alert = Alert {
        severity: Severity::Info,
        title: "test alert".into(),
        message: "This is a test of the server's alerts (hearth alert-test). If it reached you, pool faults, disk failures, failed units and stale backups will too.".into(),
        source: "test".into(),
    };
    print!("{}", send::deliver(&alert, &runner)?);
    Ok(())
}

/// `hearth status [--json] [--alert]`; true when all is well.
pub fn status(json: bool, alert: bool) -> Result<bool> {
    let now = crate::runner::epoch_seconds();
    let profile = status::installed_profile();
    let mut found = status::collect(&probe::System, profile.as_ref(), now);
    status::add_boot(&mut found, crate::be::status());
    let state = hearth_system::secure_boot::state();
    status::add_secure_boot(&mut found, secure_boot::collect(&probe::System, state));
    if json {
        println!("{}", serde_json::to_string_pretty(&found)?);
    } else {
        print!("{}", status::table(&found, now));
    }
    if alert {
        report_changes(&found.attention)?;
    }
    Ok(found.attention.is_empty())
}

/// Alerts for what needs attention since the last check, and for what
/// no longer does; failed units and pool states have their own alerts.
fn report_changes(attention: &[status::Attention]) -> Result<()> {
    let runner = Runner::new(None, false)?;
    let own_alerts = |key: &str| key.starts_with("unit-") || key.starts_with("pool-");
    let watched: Vec<status::Attention> = attention
        .iter()
        .filter(|a| !own_alerts(&a.key))
        .cloned()
        .collect();
    let before = status::read_reported();
    let (new, gone) = status::changes(&before, &watched);
    let mut messages: BTreeMap<String, Alert> = BTreeMap::new();
    for item in new {
        messages.insert(
            item.key.clone(),
            Alert {
                severity: Severity::Warning,
                title: item.what.clone(),
                message: format!("{}. `hearth status` shows the whole server.", item.what),
                source: "hearth-status".into(),
            },
        );
    }
    for key in gone {
        messages.insert(
            key.clone(),
            Alert {
                severity: Severity::Resolved,
                title: format!("resolved: {key}"),
                message: format!("{key} no longer needs attention."),
                source: "hearth-status".into(),
            },
        );
    }
    for alert in messages.values() {
        if let Err(err) = send::deliver(alert, &runner) {
            eprintln!("{err:#}");
        }
    }
    let keys: Vec<String> = watched.into_iter().map(|a| a.key).collect();
    status::write_reported(&keys)
}

#[cfg(test)]
mod tests;
