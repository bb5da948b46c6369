//! The receive user's first-boot work: the user, its keys and the
//! delegation on its dataset.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};

use crate::accounts;
use crate::first_boot::{outcome, under, Outcome};
use crate::runner::Runner;

const RECEIVE_PERMISSIONS: &str = "receive,create,mount,compression,mountpoint,recordsize";

pub fn delegate(
    root: &Path,
    user: &str,
    dataset: &str,
    ssh_keys: &[String],
    runner: &Runner,
) -> Result<Outcome> {
    let mut changed = Vec::new();
    if accounts::user(root, user).is_none() {
        runner.run(
            "useradd",
            &["--system", "--create-home", "--shell", "/bin/sh", user],
        )?;
        changed.push(format!("user {user}"));
    }
    if !ssh_keys.is_empty() {
        let home = accounts::user(root, user)
            .with_context(|| format!("user {user} was not made"))?
            .home;
        let file = under(root, &home).join(".ssh/authorized_keys");
        let wanted = ssh_keys.join("\n") + "\n";
        if fs::read_to_string(&file).ok().as_deref() != Some(wanted.as_str()) {
            fs::create_dir_all(file.parent().unwrap_or(root))?;
            fs::write(&file, &wanted)?;
            let owner = format!("{user}:");
            runner.run(
                "chown",
                &[
                    "-R",
                    &owner,
                    &file.parent().unwrap_or(root).display().to_string(),
                ],
            )?;
            changed.push("authorized_keys".into());
        }
    }
    let allowed = runner.run("zfs", &["allow", dataset])?;
    let has = allowed
        .lines()
        .any(|l| l.trim().starts_with(&format!("user {user} ")) && l.contains("receive"));
    if !has {
        runner.run("zfs", &["allow", "-u", user, RECEIVE_PERMISSIONS, dataset])?;
        changed.push(format!("zfs allow {RECEIVE_PERMISSIONS} on {dataset}"));
    }
    Ok(outcome(changed))
}
