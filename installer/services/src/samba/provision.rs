//! Samba's first-boot work: each share's folder owned by a group of its
//! users.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};

use crate::accounts;
use crate::first_boot::{outcome, Outcome};
use crate::runner::Runner;

/// Mode of a shared folder: the group writes, others see nothing, and
/// new files and folders inherit the group (setgid).
const SHARE_MODE: u32 = 0o2770;

pub fn share_access(
    root: &Path,
    path: &Path,
    group: &str,
    users: &[String],
    runner: &Runner,
) -> Result<Outcome> {
    use std::os::unix::fs::MetadataExt;
    let mut changed = Vec::new();
    if accounts::group(root, group).is_none() {
        runner.run("groupadd", &["--system", group])?;
        changed.push(format!("group {group}"));
    }
    let entry =
        accounts::group(root, group).with_context(|| format!("group {group} was not made"))?;
    for user in users.iter().filter(|u| !entry.members.contains(u)) {
        runner.run("gpasswd", &["--add", user, group])?;
        changed.push(format!("{user} in {group}"));
    }
    let gid = entry.gid;
    fs::create_dir_all(path)?;
    let meta = fs::metadata(path)?;
    if meta.gid() != gid || meta.mode() & 0o7777 != SHARE_MODE {
        let shown = path.display().to_string();
        runner.run("chgrp", &[group, &shown])?;
        runner.run("chmod", &[&format!("{SHARE_MODE:o}"), &shown])?;
        changed.push(format!("{shown} owned by {group}, mode {SHARE_MODE:o}"));
    }
    Ok(outcome(changed))
}
