//! Where the answer file comes from, in this order: `hearth.answer=URL` on
//! the kernel command line (checked against `hearth.answer-sha256=` when
//! given), the file embedded in the ISO, `answer.toml` on a FAT or ext4
//! partition labelled HEARTH. None of these: the install is interactive.

use std::fs;
use std::path::{Path, PathBuf};

use std::time::Duration;

use anyhow::{Context, Result};

use super::fetch;

use crate::runner::Runner;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub path: PathBuf,
    /// Where it came from, in words, for the log.
    pub origin: String,
}

/// A kernel command-line value, e.g. `hearth.profile`.
pub fn cmdline_value(cmdline: &str, key: &str) -> Option<String> {
    cmdline
        .split_whitespace()
        .find_map(|arg| arg.strip_prefix(&format!("{key}=")))
        .map(String::from)
}

/// `work` is where fetched or copied answers are kept (e.g. /run/hearth).
pub fn discover(
    cmdline: &str,
    medium: &Path,
    work: &Path,
    runner: &Runner,
) -> Result<Option<Found>> {
    fs::create_dir_all(work)?;
    if let Some(url) = cmdline_value(cmdline, "hearth.answer") {
        let deadline = match cmdline_value(cmdline, "hearth.answer-timeout") {
            Some(text) => text.parse().map(Duration::from_secs).with_context(|| {
                format!("hearth.answer-timeout={text}: allowed: a number of seconds")
            })?,
            None => fetch::DEFAULT_DEADLINE,
        };
        let request = fetch::Request {
            url: url.clone(),
            sha256: cmdline_value(cmdline, "hearth.answer-sha256"),
            deadline,
        };
        eprintln!("hearth: fetching the answer from {url}");
        let body = fetch::fetch(&request)?;
        let path = work.join("answer.toml");
        hearth_system::files::write_mode(&path, &body, 0o600)?;
        return Ok(Some(Found { path, origin: url }));
    }
    let embedded = medium.join("hearth/answer.toml");
    if embedded.is_file() {
        return Ok(Some(Found {
            path: embedded.clone(),
            origin: format!("the ISO ({})", embedded.display()),
        }));
    }
    labelled_partition(work, runner)
}

fn labelled_partition(work: &Path, runner: &Runner) -> Result<Option<Found>> {
    let (code, device) = runner.query("blkid", &["-L", "HEARTH"])?;
    let device = device.trim();
    if code != Some(0) || device.is_empty() {
        return Ok(None);
    }
    let mount = work.join("answer-media");
    fs::create_dir_all(&mount)?;
    runner.run("mount", &["-o", "ro", device, &mount.display().to_string()])?;
    let copied = (|| -> Result<Option<Found>> {
        let source = mount.join("answer.toml");
        if !source.is_file() {
            return Ok(None);
        }
        let path = work.join("answer.toml");
        let text = fs::read(&source)?;
        hearth_system::files::write_mode(&path, &text, 0o600)?;
        copy_kit(&text, &mount, work)?;
        Ok(Some(Found {
            path,
            origin: format!("the partition labelled HEARTH ({device})"),
        }))
    })();
    runner.run("umount", &[&mount.display().to_string()])?;
    copied
}

/// The recovery kit an answer names by file name, copied beside it: the
/// partition is unmounted before the install reads it.
fn copy_kit(answer: &[u8], mount: &Path, work: &Path) -> Result<()> {
    let named = String::from_utf8_lossy(answer)
        .parse::<toml::Table>()
        .ok()
        .and_then(|t| t.get("recovery-kit")?.as_str().map(String::from));
    match named {
        Some(name) if !name.contains('/') && mount.join(&name).is_file() => {
            let bytes = fs::read(mount.join(&name))?;
            hearth_system::files::write_mode(&work.join(&name), &bytes, 0o600)
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_iso_answer_is_found_when_no_url_is_given() {
        let dir = std::env::temp_dir().join(format!("hearth-source-{}", std::process::id()));
        fs::create_dir_all(dir.join("medium/hearth")).expect("dirs");
        fs::write(dir.join("medium/hearth/answer.toml"), "hostname = \"x\"\n").expect("answer");
        let runner = Runner::new(None, true).expect("runner");
        let found = discover("boot=live", &dir.join("medium"), &dir.join("work"), &runner)
            .expect("discover");
        assert_eq!(
            found.map(|f| f.path),
            Some(dir.join("medium/hearth/answer.toml"))
        );
        fs::remove_dir_all(&dir).ok();
    }
}
