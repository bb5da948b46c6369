//! What `hearth status` asks the system, through one trait so tests give
//! fixtures: tools' JSON where they have it (zpool status -j, smartctl
//! -j, systemctl -o json), script output (-H -p) elsewhere.

use serde::Serialize;
use serde_json::Value;

use crate::profile::Profile;

#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct PoolStatus {
    pub name: String,
    pub health: String,
    pub size: u64,
    pub free: u64,
    pub capacity_percent: u64,
    /// The last scrub or resilver, as ZFS reports it.
    pub last_scan: String,
    pub scan_errors: u64,
    /// The pool's root dataset: "off", or the cipher, its encryption root
    /// and whether the key is loaded.
    pub encryption: String,
    pub key_loaded: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct DiskStatus {
    pub device: String,
    pub model: String,
    /// SMART's overall assessment: true = PASSED.
    pub passed: Option<bool>,
    pub temperature: Option<i64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct SnapshotAge {
    pub dataset: String,
    pub newest: Option<String>,
    pub age_seconds: Option<u64>,
    /// The oldest the newest snapshot may be under its policy.
    pub allowed_seconds: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct RunStatus {
    pub unit: String,
    /// When its timer last started it (seconds since the epoch).
    pub last_run: Option<u64>,
    /// success, a failure's name, or "not run since boot".
    pub result: String,
    pub allowed_seconds: Option<u64>,
}

pub trait Probe {
    /// The command's exit status (success or not) and stdout.
    fn output(&self, program: &str, args: &[&str]) -> Option<(bool, String)>;

    /// The command's stdout when it succeeded.
    fn run(&self, program: &str, args: &[&str]) -> Option<String> {
        self.output(program, args)
            .and_then(|(ok, out)| ok.then_some(out))
    }
}

/// The running system.
pub struct System;

impl Probe for System {
    fn output(&self, program: &str, args: &[&str]) -> Option<(bool, String)> {
        let output = std::process::Command::new(program)
            .args(args)
            .output()
            .ok()?;
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        Some((output.status.success(), stdout))
    }
}

fn json(probe: &dyn Probe, program: &str, args: &[&str]) -> Option<Value> {
    serde_json::from_str(&probe.run(program, args)?).ok()
}

pub fn pools(probe: &dyn Probe) -> Vec<PoolStatus> {
    let listing = probe
        .run(
            "zpool",
            &["list", "-H", "-p", "-o", "name,health,size,free,capacity"],
        )
        .unwrap_or_default();
    let status = json(probe, "zpool", &["status", "-j"]);
    listing
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            let [name, health, size, free, capacity] = f.as_slice() else {
                return None;
            };
            let scan = status
                .as_ref()
                .and_then(|s| s.pointer(&format!("/pools/{name}/scan_stats")));
            let (last_scan, scan_errors) = describe_scan(scan);
            let (encryption, key_loaded) = encryption(probe, name);
            Some(PoolStatus {
                name: name.to_string(),
                health: health.to_string(),
                size: size.parse().unwrap_or(0),
                free: free.parse().unwrap_or(0),
                capacity_percent: capacity.trim_end_matches('%').parse().unwrap_or(0),
                last_scan,
                scan_errors,
                encryption,
                key_loaded,
            })
        })
        .collect()
}

/// The pool's root dataset's encryption, as `zfs get` says it.
fn encryption(probe: &dyn Probe, pool: &str) -> (String, bool) {
    let props = "encryption,keystatus,encryptionroot,keylocation";
    let out = probe
        .run("zfs", &["get", "-H", "-o", "value", props, pool])
        .unwrap_or_default();
    let values: Vec<&str> = out.lines().map(str::trim).collect();
    match values.as_slice() {
        ["off", ..] | [] => ("off".into(), true),
        [cipher, status, root, location] => {
            let how = if *location == "prompt" {
                "passphrase"
            } else {
                "key file"
            };
            (
                format!("{cipher}, {how}, key {status} (root {root})"),
                *status == "available",
            )
        }
        _ => (out.trim().replace('\n', " "), true),
    }
}

/// "SCRUB FINISHED at <time>, 0 errors" from zpool status -j's scan_stats.
fn describe_scan(scan: Option<&Value>) -> (String, u64) {
    let Some(scan) = scan else {
        return ("none yet".into(), 0);
    };
    let text = |key: &str| match scan.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let errors = text("errors").parse().unwrap_or(0);
    let when = match text("state").as_str() {
        "FINISHED" => format!("at {}", text("end_time")),
        _ => format!("since {}", text("start_time")),
    };
    (
        format!(
            "{} {} {when}, {errors} errors",
            text("function"),
            text("state")
        ),
        errors,
    )
}

pub fn disks(probe: &dyn Probe) -> Vec<DiskStatus> {
    let Some(scan) = json(probe, "smartctl", &["--scan", "-j"]) else {
        return Vec::new();
    };
    let devices = scan["devices"].as_array().cloned().unwrap_or_default();
    devices
        .iter()
        .filter_map(|d| d["name"].as_str().map(str::to_string))
        .map(|device| {
            // smartctl's exit code is a bit mask of findings: read the JSON anyway.
            let report = probe
                .output("smartctl", &["-j", "-H", "-i", "-A", &device])
                .and_then(|(_, t)| serde_json::from_str::<Value>(&t).ok())
                .unwrap_or(Value::Null);
            DiskStatus {
                model: report["model_name"].as_str().unwrap_or("").to_string(),
                passed: report["smart_status"]["passed"].as_bool(),
                temperature: report["temperature"]["current"].as_i64(),
                device,
            }
        })
        .collect()
}

pub fn failed_units(probe: &dyn Probe) -> Vec<String> {
    let Some(Value::Array(units)) = json(
        probe,
        "systemctl",
        &[
            "list-units",
            "--state=failed",
            "--all",
            "--output=json",
            "--no-pager",
        ],
    ) else {
        return Vec::new();
    };
    units
        .iter()
        .filter_map(|u| u["unit"].as_str().map(str::to_string))
        .collect()
}

/// Packages an upgrade would take from a security archive.
pub fn security_updates(probe: &dyn Probe) -> Vec<String> {
    let simulated = probe
        .run(
            "apt-get",
            &["-s", "-o", "Debug::NoLocking=1", "dist-upgrade"],
        )
        .unwrap_or_default();
    simulated
        .lines()
        .filter(|l| l.starts_with("Inst ") && l.contains("-security"))
        .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
        .collect()
}

/// Hearth's scheduled jobs (backups, replication): the timers it made.
pub fn runs(probe: &dyn Probe) -> Vec<RunStatus> {
    let listing = probe
        .run(
            "systemctl",
            &["list-timers", "--all", "--output=json", "--no-pager"],
        )
        .and_then(|t| serde_json::from_str::<Value>(&t).ok());
    let Some(Value::Array(timers)) = listing else {
        return Vec::new();
    };
    timers
        .iter()
        .filter_map(|t| t["activates"].as_str())
        .filter(|unit| is_job(unit))
        .map(|unit| run_status(probe, unit))
        .collect()
}

fn is_job(unit: &str) -> bool {
    unit.starts_with("hearth-") && !["hearth-care.service", "hearth-keep.service"].contains(&unit)
}

fn run_status(probe: &dyn Probe, unit: &str) -> RunStatus {
    let timer = unit.replace(".service", ".timer");
    let show = |name: &str, props: &str| {
        probe
            .run(
                "systemctl",
                &["show", name, "--timestamp=unix", "-p", props],
            )
            .unwrap_or_default()
    };
    let timer_props = show(&timer, "LastTriggerUSec,NextElapseUSecRealtime");
    let unit_props = show(unit, "Result,ExecMainExitTimestamp");
    let last = unix_prop(&timer_props, "LastTriggerUSec");
    let next = unix_prop(&timer_props, "NextElapseUSecRealtime");
    let ran = unix_prop(&unit_props, "ExecMainExitTimestamp").is_some();
    let result = match prop(&unit_props, "Result") {
        Some(r) if ran => r,
        _ => "not run since boot".into(),
    };
    // Twice the time between two runs, and an hour's grace.
    let allowed = match (last, next) {
        (Some(last), Some(next)) if next > last => Some(2 * (next - last) + 3600),
        _ => None,
    };
    RunStatus {
        unit: unit.to_string(),
        last_run: last,
        result,
        allowed_seconds: allowed,
    }
}

fn prop(text: &str, name: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}=")))
        .filter(|v| !v.is_empty() && *v != "n/a")
        .map(str::to_string)
}

fn unix_prop(text: &str, name: &str) -> Option<u64> {
    prop(text, name)?.strip_prefix('@')?.parse().ok()
}

/// The newest snapshot of each dataset a snapshot policy covers.
pub fn snapshots(probe: &dyn Probe, profile: &Profile, now: u64) -> Vec<SnapshotAge> {
    let Some(snapshots) = &profile.services.snapshots else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for policy in &snapshots.policies {
        let allowed = allowed_age(policy);
        for dataset in &policy.datasets {
            let listing = probe
                .run(
                    "zfs",
                    &[
                        "list",
                        "-H",
                        "-p",
                        "-t",
                        "snapshot",
                        "-o",
                        "name,creation",
                        "-s",
                        "creation",
                        "-d",
                        "1",
                        dataset,
                    ],
                )
                .unwrap_or_default();
            let newest = listing.lines().last().and_then(|l| l.split_once('\t'));
            out.push(SnapshotAge {
                dataset: dataset.clone(),
                newest: newest.map(|(name, _)| name.to_string()),
                age_seconds: newest
                    .and_then(|(_, created)| created.parse::<u64>().ok())
                    .map(|created| now.saturating_sub(created)),
                allowed_seconds: allowed,
            });
        }
    }
    out
}

/// Twice the shortest period the policy keeps, so one missed run is
/// tolerated and two are not.
fn allowed_age(policy: &crate::profile::SnapshotPolicy) -> u64 {
    let periods = [
        (policy.frequently, 15 * 60),
        (policy.hourly, 3600),
        (policy.daily, 86_400),
        (policy.weekly, 7 * 86_400),
        (policy.monthly, 31 * 86_400),
        (policy.yearly, 366 * 86_400),
    ];
    periods
        .iter()
        .find(|(count, _)| *count > 0)
        .map_or(366 * 86_400, |(_, seconds)| 2 * seconds + 900)
}
