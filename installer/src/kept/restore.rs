//! Putting the kept state back into a freshly unpacked system, before its
//! first boot: from the kept pool's state dataset, or from a recovery kit.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;

use super::tree::{self, Entry, Manifest};
use crate::plan::{Plan, Restore, StatePlan};
use crate::runner::Runner;
use crate::services::first_boot::under;

/// What came back, by what it is.
#[derive(Debug, Default)]
pub struct Restored {
    pub by_what: BTreeMap<String, usize>,
    pub notes: Vec<String>,
}

impl Restored {
    pub fn report(&self, from: &str) -> String {
        let mut out = format!("restored from {from}:");
        if self.by_what.is_empty() {
            out.push_str(" nothing the plan keeps");
        }
        for (what, count) in &self.by_what {
            out.push_str(&format!(" {what} ({count} file(s));"));
        }
        for note in &self.notes {
            out.push_str(&format!("\nnote: {note}"));
        }
        out
    }
}

/// The install's restore step: as the plan says, into the target.
pub fn install_step(plan: &Plan, target: &Path, runner: &Runner) -> Result<()> {
    let Some(Restore::Pool { dataset }) = &plan.state.restore else {
        return Ok(());
    };
    let folder = under(target, &plan.state.mountpoint);
    let Some(manifest) = tree::read_manifest(&folder)? else {
        runner.note(&format!(
            "{dataset} holds no kept state yet: first boot makes keys and secrets anew"
        ));
        return Ok(());
    };
    let restored = put_back(&plan.state, &plan.hostname, target, &manifest, |e| {
        tree::content(&folder, e)
    })?;
    runner.note(&restored.report(dataset));
    Ok(())
}

/// Every entry the plan restores, each file's content read (and checked)
/// before the first one is written.
pub fn put_back(
    state: &StatePlan,
    hostname: &str,
    target: &Path,
    manifest: &Manifest,
    read: impl Fn(&Entry) -> Result<Vec<u8>>,
) -> Result<Restored> {
    let mut restored = Restored::default();
    if manifest.hostname != hostname {
        restored.notes.push(format!(
            "the kept state is host {}'s; this install names the host {hostname}",
            manifest.hostname
        ));
    }
    let mut wanted = Vec::new();
    for entry in &manifest.entries {
        if let Some(item) = tree::restored_by(&state.kept, &entry.path) {
            let bytes = if entry.dir { Vec::new() } else { read(entry)? };
            wanted.push((entry, item, bytes));
        }
    }
    for (entry, item, bytes) in wanted {
        if let Some(note) = tree::put(target, entry, &bytes)? {
            restored.notes.push(note);
        }
        if !entry.dir {
            *restored.by_what.entry(item.what.clone()).or_default() += 1;
        }
    }
    Ok(restored)
}
