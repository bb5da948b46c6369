//! `hearth status`: pools and their health, the last scrub, SMART per
//! disk, failed units, pending security updates, the newest snapshot per
//! policy, the last backup and replication runs, and free space; what
//! needs a person is listed last and makes the exit code 1.

use std::path::Path;

use anyhow::Result;
use serde::Serialize;
use serde_json::Value;

use super::probe::{self, DiskStatus, PoolStatus, Probe, RunStatus, SnapshotAge};
use crate::profile::{AutomaticUpdates, Profile};

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Status {
    pub pools: Vec<PoolStatus>,
    pub disks: Vec<DiskStatus>,
    pub failed_units: Vec<String>,
    pub security_updates: Vec<String>,
    pub snapshots: Vec<SnapshotAge>,
    pub runs: Vec<RunStatus>,
    /// Boot environments: running, next boot, a failed trial.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub boot: Option<crate::be::BootStatus>,
    /// The firmware's Secure Boot state and the module-signing keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secure_boot: Option<super::secure_boot::SecureBootStatus>,
    /// What needs a person, one line each; empty: all is well.
    pub attention: Vec<Attention>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Attention {
    /// Stable across runs, so `--alert` says each thing once.
    pub key: String,
    pub what: String,
}

pub fn collect(probe: &dyn Probe, profile: Option<&Profile>, now: u64) -> Status {
    let mut status = Status {
        pools: probe::pools(probe),
        disks: probe::disks(probe),
        failed_units: probe::failed_units(probe),
        security_updates: probe::security_updates(probe),
        runs: probe::runs(probe),
        ..Status::default()
    };
    if let Some(profile) = profile {
        status.snapshots = probe::snapshots(probe, profile, now);
    }
    status.attention = attention(&status, profile, now);
    status
}

fn attention(status: &Status, profile: Option<&Profile>, now: u64) -> Vec<Attention> {
    let mut out = Vec::new();
    let mut add = |key: String, what: String| out.push(Attention { key, what });
    hardware(status, &mut add);
    for unit in &status.failed_units {
        add(format!("unit-{unit}"), format!("unit {unit} failed"));
    }
    let automatic = profile.is_some_and(|p| p.updates.automatic != AutomaticUpdates::Off);
    if !status.security_updates.is_empty() && !automatic {
        add(
            "security-updates".into(),
            format!(
                "{} security updates are pending",
                status.security_updates.len()
            ),
        );
    }
    jobs(status, now, &mut add);
    out
}

/// Secure Boot's lines, and a key it does not trust as attention.
pub fn add_secure_boot(status: &mut Status, found: super::secure_boot::SecureBootStatus) {
    for (key, what) in super::secure_boot::attention(&found) {
        status.attention.push(Attention { key, what });
    }
    status.secure_boot = Some(found);
}

/// The boot environments' line, and a trial that failed as attention.
pub fn add_boot(status: &mut Status, boot: Option<crate::be::BootStatus>) {
    if let Some(failed) = boot.as_ref().filter(|b| !b.failed.is_empty()) {
        status.attention.push(Attention {
            key: format!("boot-env-{}", failed.failed),
            what: format!(
                "boot environment {} never reached multi-user; {} boots instead (hearth be list)",
                failed.failed, failed.default
            ),
        });
    }
    status.boot = boot;
}

/// Pools and disks.
fn hardware(status: &Status, add: &mut impl FnMut(String, String)) {
    for pool in &status.pools {
        let name = &pool.name;
        if pool.health != "ONLINE" {
            add(
                format!("pool-{name}"),
                format!("pool {name} is {}", pool.health),
            );
        }
        if pool.scan_errors > 0 {
            add(
                format!("scan-{name}"),
                format!(
                    "pool {name}: its last scan found {} errors",
                    pool.scan_errors
                ),
            );
        }
        if !pool.key_loaded {
            add(
                format!("key-{name}"),
                format!("pool {name} is encrypted and its key is not loaded: `hearth load-key {name}`, then `zfs mount -a`"),
            );
        }
        if pool.capacity_percent >= 80 {
            add(
                format!("full-{name}"),
                format!("pool {name} is {}% full", pool.capacity_percent),
            );
        }
    }
    for disk in status.disks.iter().filter(|d| d.passed == Some(false)) {
        add(
            format!("smart-{}", disk.device),
            format!("disk {} fails its SMART check", disk.device),
        );
    }
}

/// Snapshots and scheduled runs older than their schedules allow.
fn jobs(status: &Status, now: u64, add: &mut impl FnMut(String, String)) {
    for snap in &status.snapshots {
        let key = format!("snapshot-{}", snap.dataset);
        match snap.age_seconds {
            Some(age) if age <= snap.allowed_seconds => {}
            Some(age) => add(
                key,
                format!(
                    "the newest snapshot of {} is {} old",
                    snap.dataset,
                    human_age(age)
                ),
            ),
            None => add(key, format!("{} has no snapshot", snap.dataset)),
        }
    }
    for run in &status.runs {
        if run.result != "success" && run.result != "not run since boot" {
            add(
                format!("run-{}", run.unit),
                format!("the last run of {} ended: {}", run.unit, run.result),
            );
        }
        if let (Some(last), Some(allowed)) = (run.last_run, run.allowed_seconds) {
            if now.saturating_sub(last) > allowed {
                add(
                    format!("stale-{}", run.unit),
                    format!(
                        "{} last ran {} ago, longer than its schedule allows",
                        run.unit,
                        human_age(now - last)
                    ),
                );
            }
        }
    }
}

pub fn human_age(seconds: u64) -> String {
    match seconds {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}min", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// The table a person reads.
pub fn table(status: &Status, now: u64) -> String {
    let mut out = String::from("POOL        HEALTH    SIZE      FREE      USED  LAST SCAN\n");
    for p in &status.pools {
        out.push_str(&format!(
            "{:<11} {:<9} {:<9} {:<9} {:>3}%  {}\n",
            p.name,
            p.health,
            gib(p.size),
            gib(p.free),
            p.capacity_percent,
            p.last_scan
        ));
    }
    for p in status.pools.iter().filter(|p| p.encryption != "off") {
        out.push_str(&format!("{}: encrypted, {}\n", p.name, p.encryption));
    }
    out.push_str("\nDISK                 SMART    TEMP  MODEL\n");
    if status.disks.is_empty() {
        out.push_str("(no disk reports SMART)\n");
    }
    for d in &status.disks {
        let smart = match d.passed {
            Some(true) => "PASSED",
            Some(false) => "FAILING",
            None => "unknown",
        };
        let temp = d.temperature.map_or("-".to_string(), |t| format!("{t}C"));
        out.push_str(&format!(
            "{:<20} {smart:<8} {temp:<5} {}\n",
            d.device, d.model
        ));
    }
    if !status.snapshots.is_empty() {
        out.push_str("\nSNAPSHOTS            NEWEST\n");
    }
    for s in &status.snapshots {
        let age = s
            .age_seconds
            .map_or("none".to_string(), |a| format!("{} ago", human_age(a)));
        out.push_str(&format!("{:<20} {age}\n", s.dataset));
    }
    if !status.runs.is_empty() {
        out.push_str("\nSCHEDULED RUN                       LAST               RESULT\n");
    }
    for r in &status.runs {
        let last = r.last_run.map_or("never".to_string(), |l| {
            format!("{} ago", human_age(now.saturating_sub(l)))
        });
        out.push_str(&format!("{:<35} {last:<18} {}\n", r.unit, r.result));
    }
    out.push_str(&boot_lines(status));
    out.push_str(&format!(
        "\nfailed units: {}\npending security updates: {}\n",
        list_or_none(&status.failed_units),
        status.security_updates.len()
    ));
    match status.attention.as_slice() {
        [] => out.push_str("\nAll is well.\n"),
        items => {
            out.push_str("\nNEEDS ATTENTION:\n");
            for item in items {
                out.push_str(&format!("  - {}\n", item.what));
            }
        }
    }
    out
}

fn list_or_none(items: &[String]) -> String {
    match items {
        [] => "none".into(),
        items => items.join(", "),
    }
}

fn gib(bytes: u64) -> String {
    format!("{:.1}G", bytes as f64 / f64::from(1u32 << 30))
}

/// The merged profile the server was installed from, if it was kept.
pub fn installed_profile() -> Option<Profile> {
    let text = std::fs::read_to_string(Path::new("/etc/hearth/profile.toml")).ok()?;
    toml::from_str(&text).ok()
}

/// What `--alert` remembers between runs: the keys it reported.
pub const REPORTED: &str = "/var/lib/hearth/attention.json";

/// Attention items new since the last run, and keys no longer present.
pub fn changes(before: &[String], now: &[Attention]) -> (Vec<Attention>, Vec<String>) {
    let new = now
        .iter()
        .filter(|a| !before.contains(&a.key))
        .cloned()
        .collect();
    let gone = before
        .iter()
        .filter(|k| !now.iter().any(|a| &a.key == *k))
        .cloned()
        .collect();
    (new, gone)
}

pub fn read_reported() -> Vec<String> {
    std::fs::read_to_string(REPORTED)
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
}

pub fn write_reported(keys: &[String]) -> Result<()> {
    if let Some(dir) = Path::new(REPORTED).parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(REPORTED, serde_json::to_string(keys)?)?;
    Ok(())
}

/// Boot environments and Secure Boot.
fn boot_lines(status: &Status) -> String {
    let mut out = String::new();
    if let Some(boot) = &status.boot {
        out.push_str(&format!(
            "\nboot environment: running {}, next boot {}{}; ESPs present {} of {}\n",
            boot.running,
            boot.default,
            if boot.trial.is_empty() {
                ""
            } else {
                " (a trial)"
            },
            boot.esps_present,
            boot.esps_listed
        ));
    }
    if let Some(secure_boot) = &status.secure_boot {
        out.push_str(&super::secure_boot::table(secure_boot));
    }
    out
}
