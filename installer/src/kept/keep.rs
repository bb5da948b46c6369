//! `hearth keep`: the server's state copied onto its data pool, changed
//! files only, so a reinstall that keeps the pool finds it there.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::tree::{self, Entry, Manifest};
use crate::plan::{Plan, StatePlan};
use crate::runner::Runner;
use crate::services::first_boot::under;
use hearth_system::files::write_mode;

/// What one keep run did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Kept {
    pub written: Vec<PathBuf>,
    pub removed: Vec<PathBuf>,
    pub total: usize,
}

impl Kept {
    pub fn report(&self, dataset: &str) -> String {
        if self.written.is_empty() && self.removed.is_empty() {
            return format!(
                "kept state on {dataset}: up to date, {} entries\n",
                self.total
            );
        }
        format!(
            "kept state on {dataset}: {} file(s) written, {} removed, {} entries\n",
            self.written.len(),
            self.removed.len(),
            self.total
        )
    }
}

/// On the server: keeps the plan's state if its dataset is mounted.
pub fn on_server(plan: &Plan, runner: &Runner) -> Result<Option<String>> {
    let Some(dataset) = &plan.state.dataset else {
        return Ok(None);
    };
    let root = Path::new("/");
    if !is_mount_point(&plan.state.mountpoint) {
        anyhow::bail!(
            "{dataset} is not mounted at {}: the state is not kept until it is (zfs mount {dataset})",
            plan.state.mountpoint.display()
        );
    }
    let pools = pool_guids(plan, runner);
    let done = keep(root, &plan.state, &plan.hostname, pools)?;
    Ok(Some(done.report(dataset)))
}

pub fn pool_guids(plan: &Plan, runner: &Runner) -> Vec<(String, String)> {
    let mut guids = Vec::new();
    for pool in &plan.pools {
        if let Ok(out) = runner.run("zpool", &["get", "-H", "-o", "value", "guid", &pool.name]) {
            guids.push((pool.name.clone(), out.trim().to_string()));
        }
    }
    guids
}

fn is_mount_point(path: &Path) -> bool {
    let (Ok(here), Some(Ok(up))) = (fs::metadata(path), path.parent().map(fs::metadata)) else {
        return false;
    };
    here.dev() != up.dev()
}

/// Copies what changed of `state` on the system at `root` into its folder.
pub fn keep(
    root: &Path,
    state: &StatePlan,
    hostname: &str,
    pools: Vec<(String, String)>,
) -> Result<Kept> {
    let folder = under(root, &state.mountpoint);
    fs::create_dir_all(&folder)?;
    // Root only: the folder holds private keys.
    fs::set_permissions(&folder, fs::Permissions::from_mode(0o700))?;
    let collected = tree::collect(root, &state.kept)?;
    let mut done = Kept {
        total: collected.len(),
        ..Kept::default()
    };
    for (entry, bytes) in &collected {
        if entry.dir {
            continue;
        }
        let stored = tree::stored(&folder, &entry.path);
        if fs::read(&stored).ok().as_deref() != Some(bytes.as_slice()) {
            if let Some(dir) = stored.parent() {
                fs::create_dir_all(dir)?;
            }
            write_mode(&stored, bytes, 0o600)?;
            done.written.push(entry.path.clone());
        }
    }
    let entries: Vec<Entry> = collected.into_iter().map(|(e, _)| e).collect();
    done.removed = prune(&folder, &entries)?;
    let old = tree::read_manifest(&folder)?;
    let changed = old
        .as_ref()
        .is_none_or(|m| m.entries != entries || m.hostname != hostname || m.pools != pools);
    if changed {
        let manifest = Manifest {
            hostname: hostname.to_string(),
            pools,
            kept_at: crate::runner::epoch_seconds(),
            entries,
        };
        tree::write_manifest(&folder, &manifest)?;
    }
    Ok(done)
}

/// Removes kept files the server no longer has (a peer taken out).
fn prune(folder: &Path, entries: &[Entry]) -> Result<Vec<PathBuf>> {
    let files = folder.join(tree::FILES);
    let mut removed = Vec::new();
    let mut stack = vec![files.clone()];
    while let Some(dir) = stack.pop() {
        let Ok(list) = fs::read_dir(&dir) else {
            continue;
        };
        for item in list.flatten() {
            let path = item.path();
            let inside = Path::new("/").join(path.strip_prefix(&files)?);
            if item.file_type()?.is_dir() {
                stack.push(path);
            } else if !entries.iter().any(|e| e.path == inside && !e.dir) {
                fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
                removed.push(inside);
            }
        }
    }
    Ok(removed)
}
