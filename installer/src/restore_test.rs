//! `hearth restore-test`: restores one file of the latest cloud backup
//! into a scratch folder and compares it with the live file. restic checks
//! every blob it reads, so a restore that completes proves the repository
//! can be read and decrypted with the password this server keeps.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::runner::Runner;

/// restic with the repository, password file and credentials of `env`.
/// restic with the variables of `env`, read as systemd reads an
/// EnvironmentFile (never by a shell: a value is data, not code).
fn restic(runner: &Runner, env: &Path, args: &[&str]) -> Result<String> {
    let text = fs::read_to_string(env).with_context(|| format!("reading {}", env.display()))?;
    runner.run_with_env("restic", args, &environment(&text))
}

/// `NAME=value` lines; comments and blank lines skipped, one pair of
/// surrounding quotes removed.
pub fn environment(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with(['#', ';']))
        .filter_map(|line| line.split_once('='))
        .map(|(name, value)| {
            let value = value.trim();
            let unquoted = ['"', '\'']
                .iter()
                .find_map(|q| value.strip_prefix(*q).and_then(|v| v.strip_suffix(*q)))
                .unwrap_or(value);
            (name.trim().to_string(), unquoted.to_string())
        })
        .collect()
}

/// The first regular file of the latest snapshot (`restic ls --json`).
fn first_file(runner: &Runner, env: &Path) -> Result<PathBuf> {
    let listing = restic(runner, env, &["ls", "--json", "latest"])?;
    for line in listing.lines() {
        let Ok(node) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if node["type"] == "file" {
            if let Some(path) = node["path"].as_str() {
                return Ok(PathBuf::from(path));
            }
        }
    }
    bail!("the latest snapshot holds no file")
}

/// `env` is restic.env (`services::restic::ENV` on the server).
pub fn run(env: &Path, file: Option<&Path>, runner: &Runner) -> Result<String> {
    if !env.is_file() {
        bail!(
            "{} is missing: the profile has no [services.cloud-backup]",
            env.display()
        );
    }
    let file = match file {
        Some(file) => file.to_path_buf(),
        None => first_file(runner, env)?,
    };
    let scratch = std::env::temp_dir().join(format!("hearth-restore-test-{}", std::process::id()));
    let _ = fs::remove_dir_all(&scratch);
    fs::create_dir_all(&scratch)?;
    let shown = file.display().to_string();
    let restored = restic(
        runner,
        env,
        &[
            "restore",
            "latest",
            "--target",
            &scratch.display().to_string(),
            "--include",
            &shown,
        ],
    )
    .and_then(|_| {
        hearth_system::files::sha256_file(&scratch.join(file.strip_prefix("/").unwrap_or(&file)))
    });
    let _ = fs::remove_dir_all(&scratch);
    let restored =
        restored.with_context(|| format!("restoring {shown} from the latest snapshot"))?;
    Ok(match hearth_system::files::sha256_file(&file) {
        Ok(live) if live == restored => {
            format!(
                "restore test passed: {shown} came back identical to the live file (sha256 {live})"
            )
        }
        Ok(_) => format!(
            "restore test passed: {shown} came back; the live file has changed since the snapshot"
        ),
        Err(_) => {
            format!("restore test passed: {shown} came back; there is no live file to compare")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backed_up_file_comes_back_identical() {
        if !crate::runner::on_path("restic") {
            eprintln!("SKIP: restic is not installed (.ci/run installs it)");
            return;
        }
        let dir = std::env::temp_dir().join(format!("hearth-restore-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let data = dir.join("data");
        fs::create_dir_all(&data).expect("dir");
        fs::write(data.join("photo.jpg"), b"not really a photo").expect("file");
        fs::write(dir.join("password"), "repository key\n").expect("password");
        let env = dir.join("restic.env");
        fs::write(
            &env,
            format!(
                "# as the installer writes it\nRESTIC_REPOSITORY={0}/repo\nRESTIC_PASSWORD_FILE={0}/password\nRESTIC_CACHE_DIR={0}/cache\n",
                dir.display()
            ),
        )
        .expect("env");
        let runner = Runner::new(None, false).expect("runner");
        restic(&runner, &env, &["init"]).expect("init");
        restic(&runner, &env, &["backup", &data.display().to_string()]).expect("backup");
        let report = run(&env, None, &runner).expect("restore test");
        let hostile = environment("RESTIC_REPOSITORY=$(touch /tmp/owned)\n# c\nX='y'\n");
        assert_eq!(hostile[0].1, "$(touch /tmp/owned)", "kept as data");
        assert_eq!(hostile[1], ("X".into(), "y".into()));
        assert!(report.contains("photo.jpg came back identical"), "{report}");
        fs::write(data.join("photo.jpg"), b"edited since").expect("edit");
        let report = run(&env, Some(&data.join("photo.jpg")), &runner).expect("restore test");
        assert!(
            report.contains("has changed since the snapshot"),
            "{report}"
        );
        let _ = fs::remove_dir_all(&dir);
    }
}
