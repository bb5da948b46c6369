//! Syncthing's first-boot work: the user's configuration, made as the user,
//! with a folder on their dataset and their own sync port.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};

use crate::accounts;
use crate::first_boot::{outcome, under, Outcome};
use crate::runner::Runner;

pub fn configure(
    root: &Path,
    user: &str,
    path: &Path,
    sync_port: u16,
    runner: &Runner,
) -> Result<Outcome> {
    use std::os::unix::fs::MetadataExt;
    let mut changed = Vec::new();
    let account = accounts::user(root, user).with_context(|| format!("no user {user}"))?;
    let (uid, home) = (account.uid, account.home.display().to_string());
    fs::create_dir_all(path)?;
    if fs::metadata(path)?.uid() != uid {
        let owner = format!("{user}:");
        runner.run("chown", &[&owner, &path.display().to_string()])?;
        changed.push(format!("{} owned by {user}", path.display()));
    }
    let dir = super::home(&under(root, Path::new(&home)));
    let config = dir.join("config.xml");
    if !config.is_file() {
        let shown = super::home(Path::new(&home)).display().to_string();
        runner.run(
            "runuser",
            &[
                "-u",
                user,
                "--",
                "syncthing",
                "generate",
                "--no-default-folder",
                "--skip-port-probing",
                &format!("--home={shown}"),
            ],
        )?;
        changed.push(format!("configuration in {shown}"));
    }
    let text = fs::read_to_string(&config)?;
    let mut updated = text.clone();
    if let Some(with) = super::with_folder(&updated, user, path) {
        updated = with;
        changed.push(format!("folder {}", path.display()));
    }
    if let Some(with) = super::with_listen_port(&updated, sync_port) {
        updated = with;
        changed.push(format!("sync port {sync_port}"));
    }
    if updated != text {
        // Written in place: the file keeps its owner and mode.
        fs::write(&config, updated)?;
        // A running Syncthing reads config.xml only when it starts.
        runner.run(
            "systemctl",
            &["try-restart", &format!("syncthing@{user}.service")],
        )?;
    }
    Ok(outcome(changed))
}
