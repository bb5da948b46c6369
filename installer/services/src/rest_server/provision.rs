//! rest-server's first-boot work: its system user owning the folder, and a
//! password (root only) plus htpasswd entry per client.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::Result;

use crate::accounts;
use crate::first_boot::{outcome, secret_file, under, Outcome};
use crate::runner::Runner;

pub fn served_folder(
    root: &Path,
    path: &Path,
    clients: &[String],
    runner: &Runner,
) -> Result<Outcome> {
    use super::{htpasswd, password_file, USER};
    use std::os::unix::fs::MetadataExt;
    let mut changed = Vec::new();
    if accounts::user(root, USER).is_none() {
        runner.run(
            "useradd",
            &[
                "--system",
                "--user-group",
                "--no-create-home",
                "--home-dir",
                &path.display().to_string(),
                "--shell",
                "/usr/sbin/nologin",
                USER,
            ],
        )?;
        changed.push(format!("user {USER}"));
    }
    let uid: u32 = runner.run("id", &["-u", USER])?.trim().parse()?;
    fs::create_dir_all(path)?;
    if fs::metadata(path)?.uid() != uid {
        let owner = format!("{USER}:{USER}");
        runner.run("chown", &[&owner, &path.display().to_string()])?;
        changed.push(format!("{} owned by {USER}", path.display()));
    }
    let file = under(root, &htpasswd());
    for client in clients {
        let secret = under(root, &password_file(client));
        if secret_file(&secret)? != Outcome::Unchanged {
            changed.push(format!("password of {client}"));
        }
        let listed = fs::read_to_string(&file)
            .unwrap_or_default()
            .lines()
            .any(|l| l.split(':').next() == Some(client.as_str()));
        if !listed {
            let password = fs::read_to_string(&secret)?.trim().to_string();
            let shown = file.display().to_string();
            let mut args = vec!["-B", "-i"];
            if !file.exists() {
                args.push("-c");
            }
            args.extend([shown.as_str(), client.as_str()]);
            runner.run_secret("htpasswd", &args, Some(&password))?;
            changed.push(format!("{client} in {shown}"));
        }
    }
    if file.exists() {
        // rest-server reads it; only root writes it.
        let group = format!("root:{USER}");
        runner.run("chown", &[&group, &file.display().to_string()])?;
        fs::set_permissions(&file, fs::Permissions::from_mode(0o640))?;
    }
    Ok(outcome(changed))
}
