//! Where the answer file comes from, in this order: `hearth.answer=URL` on
//! the kernel command line (the machine's facts POSTed to it; the network
//! brought up for it), the file embedded in the ISO, `answer.toml` on a FAT
//! or ext4 partition labelled HEARTH. None of these: the install is
//! interactive. A URL that gives no answer (none for this machine, or no
//! server until the deadline) falls through to the next source; a URL whose
//! server refuses stops the install before any disk is touched.

use std::fs;
use std::path::{Path, PathBuf};

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::fetch::{self, Fetched};
use super::network;
use crate::console::mark;

use crate::runner::Runner;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
        match from_url(&url, cmdline, medium, runner)? {
            Fetched::Answer(body) => {
                let path = work.join("answer.toml");
                hearth_system::files::write_mode(&path, &body, 0o600)?;
                return Ok(Some(Found { path, origin: url }));
            }
            Fetched::Refused(why) => bail!("{why}; no disk was touched"),
            Fetched::NoAnswer(why) => {
                let line = format!("{why}; trying the answer on the ISO, then a partition labelled HEARTH, then asking");
                eprintln!("hearth: {line}");
                mark(&format!("HEARTH-ANSWER-FALLBACK {line}"));
            }
        }
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

/// The kernel command line's request for `url`: deadline, pins, token.
pub fn request(url: &str, cmdline: &str, medium: &Path) -> Result<fetch::Request> {
    let deadline = match cmdline_value(cmdline, "hearth.answer-timeout") {
        Some(text) => text.parse().map(Duration::from_secs).with_context(|| {
            format!("hearth.answer-timeout={text}: allowed: a number of seconds")
        })?,
        None => fetch::DEFAULT_DEADLINE,
    };
    let fingerprint = cmdline_value(cmdline, "hearth.answer-fingerprint")
        .map(|f| crate::fleet::tls::parse_fingerprint(&f))
        .transpose()
        .context("hearth.answer-fingerprint")?;
    let ca = cmdline_value(cmdline, "hearth.answer-ca")
        .map(|name| medium.join(name.trim_start_matches('/')));
    Ok(fetch::Request {
        url: url.to_string(),
        sha256: cmdline_value(cmdline, "hearth.answer-sha256"),
        fingerprint,
        ca,
        token: cmdline_value(cmdline, "hearth.answer-token"),
        deadline,
        facts: None,
    })
}

/// The network up (within the deadline), the facts gathered, the answer asked for.
fn from_url(url: &str, cmdline: &str, medium: &Path, runner: &Runner) -> Result<Fetched> {
    let mut request = request(url, cmdline, medium)?;
    request.check()?;
    let started = Instant::now();
    eprintln!("hearth: bringing up the network for the answer at {url}");
    if let Err(err) = network::up(runner, request.deadline) {
        return Ok(Fetched::NoAnswer(format!("{err:#}")));
    }
    network::show(runner);
    request.deadline = request
        .deadline
        .saturating_sub(started.elapsed())
        .max(Duration::from_secs(5));
    let profile = cmdline_value(cmdline, "hearth.profile").unwrap_or_default();
    let facts = crate::fleet::facts::gather(&profile)?;
    request.facts = Some(serde_json::to_vec(&facts)?);
    eprintln!("hearth: asking {url} for this machine's answer");
    fetch::fetch(&request)
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
