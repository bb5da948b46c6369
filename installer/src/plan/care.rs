//! Day-two care as planned: scrub and TRIM timers per pool (OpenZFS's own
//! zfs-scrub-*@ and zfs-trim-*@ units), and a summary of alerts, updates
//! and time for the preview.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::select::Selection;
use super::FilePlan;
use crate::profile::{AutomaticUpdates, Profile, SmtpTls};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct CarePlan {
    /// Where alerts go, one line per receiver; empty: the journal only.
    pub alerts: Vec<String>,
    /// Pool -> scrub schedule ("off" when none).
    pub scrub: BTreeMap<String, String>,
    /// Pool -> TRIM schedule ("off" when none), and why when defaulted.
    pub trim: BTreeMap<String, String>,
    pub updates: String,
    pub time: String,
}

/// What the care plan needs from the system: its files and timers.
pub struct Care {
    pub plan: CarePlan,
    pub files: Vec<FilePlan>,
    pub units: Vec<String>,
}

pub fn care(profile: &Profile, selection: &Selection) -> Care {
    let mut care = Care {
        plan: CarePlan {
            alerts: receivers(profile),
            updates: updates(profile),
            time: time(profile),
            ..CarePlan::default()
        },
        files: Vec::new(),
        units: Vec::new(),
    };
    for pool in &profile.storage.pools {
        let scrub = pool.scrub.clone();
        care.schedule("scrub", &pool.name, &scrub);
        care.plan.scrub.insert(pool.name.clone(), scrub);
        let (trim, why) = match &pool.trim {
            Some(trim) => (trim.clone(), String::new()),
            None if solid_state(selection, &pool.name) => {
                ("monthly".to_string(), " (every disk is solid-state)".into())
            }
            None => (
                "off".to_string(),
                " (not every disk is known to be solid-state)".into(),
            ),
        };
        care.schedule("trim", &pool.name, &trim);
        care.plan.trim.insert(pool.name.clone(), trim + &why);
    }
    care
}

impl Care {
    /// OpenZFS's timer for `job` ("scrub" or "trim") on `pool`; another
    /// calendar is a drop-in over its monthly timer.
    fn schedule(&mut self, job: &str, pool: &str, schedule: &str) {
        let period = match schedule {
            "off" => return,
            "weekly" => "weekly",
            _ => "monthly",
        };
        let timer = format!("zfs-{job}-{period}@{pool}.timer");
        if !matches!(schedule, "weekly" | "monthly") {
            self.files.push(FilePlan::public(
                format!("/etc/systemd/system/{timer}.d/10-hearth.conf"),
                format!("# Written by the Hearth installer from the pool's {job} schedule.\n[Timer]\nOnCalendar=\nOnCalendar={schedule}\n"),
            ));
        }
        self.units.push(timer);
    }
}

/// Whether the pool's disks, as selected, are all solid-state; a kept
/// pool's disks are not selected, so they are not known to be.
fn solid_state(selection: &Selection, pool: &str) -> bool {
    let mut disks = selection
        .members
        .iter()
        .filter(|m| m.pool == pool)
        .flat_map(|m| m.disks.iter())
        .peekable();
    disks.peek().is_some() && disks.all(|d| !d.rotational)
}

fn receivers(profile: &Profile) -> Vec<String> {
    let alerts = &profile.alerts;
    let mut out = Vec::new();
    if let Some(email) = &alerts.email {
        let tls = match email.tls {
            SmtpTls::Starttls => "STARTTLS",
            SmtpTls::Tls => "TLS",
            SmtpTls::Off => "no TLS",
        };
        let login = match &email.user {
            Some(user) => format!(", login {user} (password from the answer)"),
            None => String::new(),
        };
        out.push(format!(
            "mail to {} through {}:{} ({tls}{login})",
            email.to.join(", "),
            email.relay,
            email.port
        ));
    }
    if let Some(hook) = &alerts.webhook {
        let token = match alerts.webhook_token {
            Some(_) => ", with the answer's token",
            None => "",
        };
        out.push(format!(
            "webhook ({}) {}{token}",
            format!("{:?}", hook.kind).to_lowercase(),
            hook.url
        ));
    }
    out
}

fn updates(profile: &Profile) -> String {
    let updates = &profile.updates;
    let what = match updates.automatic {
        AutomaticUpdates::Security => "security updates installed automatically",
        AutomaticUpdates::Stable => "security and stable updates installed automatically",
        AutomaticUpdates::Off => "no automatic updates (hearth status lists pending ones)",
    };
    let reboot = match updates.reboot.as_str() {
        "never" => "never restarts by itself".to_string(),
        time => format!("restarts at {time} when an update needs it"),
    };
    let mirror = updates.mirror.as_deref().unwrap_or("the ISO's mirror");
    let security = updates
        .security_mirror
        .as_deref()
        .unwrap_or("the ISO's security archive");
    format!("{what}; {reboot}; from {mirror} and {security}")
}

fn time(profile: &Profile) -> String {
    let daemon = match profile.base {
        hearth_schema::profile::Base::Debian => "systemd-timesyncd",
        hearth_schema::profile::Base::Proxmox => "chrony",
    };
    match profile.system.ntp.as_slice() {
        [] => format!("{daemon} with Debian's NTP pool"),
        servers => format!("{daemon} with {}", servers.join(", ")),
    }
}
