//! The receive user's first-boot work: the user, its keys and the
//! delegation on its dataset.

use std::fs;
use std::path::Path;

use anyhow::{bail, Context, Result};

use super::gate;

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
    let shell = under(root, Path::new(gate::SHELL));
    if fs::symlink_metadata(&shell).is_err() {
        fs::create_dir_all(shell.parent().unwrap_or(root))?;
        std::os::unix::fs::symlink(gate::HEARTH, &shell)?;
    }
    match accounts::user(root, user) {
        None => {
            runner.run(
                "useradd",
                &["--system", "--create-home", "--shell", gate::SHELL, user],
            )?;
            changed.push(format!("user {user}"));
        }
        // Never take over an account someone else made: its keys would be replaced.
        Some(found) if found.shell != Path::new(gate::SHELL) => bail!(
            "user {user} exists with shell {} and is not Hearth's receive account; refusing to replace its authorized_keys",
            found.shell.display()
        ),
        Some(_) => {}
    }
    if !ssh_keys.is_empty() {
        let home = accounts::user(root, user)
            .with_context(|| format!("user {user} was not made"))?
            .home;
        let file = under(root, &home).join(".ssh/authorized_keys");
        let lines: Vec<String> = ssh_keys
            .iter()
            .map(|key| gate::authorized_line(dataset, key))
            .collect();
        let wanted = lines.join("\n") + "\n";
        if fs::read_to_string(&file).ok().as_deref() != Some(wanted.as_str()) {
            fs::create_dir_all(file.parent().unwrap_or(root))?;
            hearth_system::files::write_mode(&file, wanted.as_bytes(), 0o600)?;
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
