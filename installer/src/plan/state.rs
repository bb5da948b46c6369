//! The server's kept state in the plan: what is kept, on which dataset, and
//! whether this install brings it back before first boot.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::select::Selection;
use super::FilePlan;
use crate::answer::Answer;
use crate::datasets::{self, STATE_MOUNTPOINT};
use crate::profile::Profile;
use crate::services::{self, Kept};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct StatePlan {
    /// `<first data pool>/hearth`; none without a data pool (the recovery
    /// kit then holds the only copy).
    pub dataset: Option<String>,
    pub mountpoint: PathBuf,
    pub kept: Vec<Kept>,
    /// Where this install takes the server's earlier state from.
    pub restore: Option<Restore>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "from")]
pub enum Restore {
    /// The kept pool's state dataset, written by the server's last run.
    Pool { dataset: String },
    /// A recovery kit (the answer's `recovery-kit`), then the files of
    /// `data` from the kit's cloud backup.
    Kit { source: String, data: Vec<PathBuf> },
}

pub const KEEP_SERVICE: &str = "/etc/systemd/system/hearth-keep.service";
pub const KEEP_TIMER: &str = "/etc/systemd/system/hearth-keep.timer";

pub fn state(profile: &Profile, answer: &Answer, selection: &Selection) -> StatePlan {
    let dataset = datasets::state(profile);
    let kept_pool = |name: &String| {
        let pool = name.split('/').next().unwrap_or_default();
        selection.kept.iter().any(|k| k == pool)
    };
    let from_pool = dataset
        .iter()
        .find(|d| kept_pool(d))
        .map(|d| Restore::Pool { dataset: d.clone() });
    let from_kit = answer.recovery_kit.as_ref().map(|source| Restore::Kit {
        source: source.clone(),
        data: profile
            .services
            .cloud_backup
            .iter()
            .flat_map(|b| b.paths.clone())
            .collect(),
    });
    // A kit is the admin's choice: it wins over a kept pool's state.
    let restore = from_kit.or(from_pool);
    StatePlan {
        dataset,
        mountpoint: PathBuf::from(STATE_MOUNTPOINT),
        kept: services::kept(profile),
        restore,
    }
}

/// The timer that keeps the state up to date once first boot has made it.
pub fn files(state: &StatePlan) -> Vec<FilePlan> {
    if state.dataset.is_none() {
        return Vec::new();
    }
    let mount = state.mountpoint.display();
    vec![
        FilePlan::public(
            KEEP_SERVICE,
            format!(
                "[Unit]\nDescription=Hearth: keep the server's keys and secrets on its data pool (hearth keep)\nRequiresMountsFor={mount}\nConditionPathIsMountPoint={mount}\n\n[Service]\nType=oneshot\nExecStart=/usr/bin/hearth keep\n"
            ),
        ),
        FilePlan::public(
            KEEP_TIMER,
            "[Unit]\nDescription=Hearth: keep the server's state every hour\n\n[Timer]\nOnCalendar=hourly\nPersistent=true\n\n[Install]\nWantedBy=timers.target\n".to_string(),
        ),
    ]
}

pub fn units(state: &StatePlan) -> Vec<String> {
    match state.dataset {
        Some(_) => vec!["hearth-keep.timer".into()],
        None => Vec::new(),
    }
}
