//! What makes an execution a finding: a value that wrote a line of its own
//! (the marker at the start of a line of a generated file or the plan
//! preview), or a generated file its service's own validator refuses.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::mutate::MARKER;

/// Every way a line can end for some config parser.
const BREAKS: &[char] = &[
    '\n', '\r', '\u{0b}', '\u{0c}', '\u{85}', '\u{2028}', '\u{2029}',
];

/// The first line of `text` that begins with the marker.
pub fn injected_line(text: &str) -> Option<String> {
    text.split(BREAKS)
        .find(|line| line.trim_start().starts_with(MARKER))
        .map(String::from)
}

/// The services' validators that are installed here, each run once per
/// distinct file.
pub struct Validators {
    dir: PathBuf,
    seen: HashSet<[u8; 32]>,
    testparm: bool,
    nft: bool,
    wg_quick: bool,
    systemd: bool,
    /// A host key for `sshd -t`, when sshd is installed.
    sshd_key: Option<PathBuf>,
    pub runs: u64,
}

impl Validators {
    pub fn new(dir: &Path) -> Self {
        let found = hearth_installer::runner::on_path;
        let nft = found("nft")
            && Command::new("unshare")
                .args(["-n", "true"])
                .status()
                .is_ok_and(|s| s.success());
        let sshd_key = found("sshd").then(|| host_key(dir)).flatten();
        Validators {
            dir: dir.to_path_buf(),
            sshd_key,
            seen: HashSet::new(),
            testparm: found("testparm"),
            nft,
            wg_quick: found("wg-quick"),
            systemd: found("systemd-analyze"),
            runs: 0,
        }
    }

    /// Which validators this machine has, for the report.
    pub fn available(&self) -> Vec<&'static str> {
        let all = [
            ("testparm", self.testparm),
            ("nft -c", self.nft),
            ("wg-quick strip", self.wg_quick),
            ("systemd-analyze verify", self.systemd),
            ("sshd -t", self.sshd_key.is_some()),
        ];
        all.iter().filter(|(_, on)| *on).map(|(n, _)| *n).collect()
    }

    /// The validator's complaint about `content` written at `path`, if any.
    pub fn check(
        &mut self,
        path: &str,
        content: &str,
        units: &[(String, String)],
    ) -> Option<String> {
        let digest: [u8; 32] = Sha256::digest(content.as_bytes()).into();
        if !self.seen.insert(digest) {
            return None;
        }
        let outcome = if path == "/etc/samba/smb.conf" && self.testparm {
            Some(self.testparm(content))
        } else if path == "/etc/nftables.conf" && self.nft {
            Some(self.run_on(
                "ruleset.nft",
                content,
                &["unshare", "-n", "nft", "-c", "-f"],
            ))
        } else if path.ends_with("wg0.conf") || path.ends_with("client.conf") {
            self.wg_quick
                .then(|| self.run_on("wg0.conf", content, &["wg-quick", "strip"]))
        } else if path.starts_with("/etc/ssh/sshd_config.d/") {
            self.sshd_key.clone().map(|key| {
                let key = key.display().to_string();
                self.run_on(
                    "sshd.conf",
                    content,
                    &["/usr/sbin/sshd", "-t", "-h", &key, "-f"],
                )
            })
        } else if path.starts_with("/etc/systemd/system/")
            && path.ends_with(".service")
            && self.systemd
        {
            Some(self.unit(path, content, units))
        } else {
            None
        };
        if outcome.is_some() {
            self.runs += 1;
        }
        outcome.flatten()
    }

    fn testparm(&self, content: &str) -> Option<String> {
        let out = self.run_on(
            "smb.conf",
            content,
            &["testparm", "-s", "--suppress-prompt"],
        )?;
        Some(out)
    }

    /// Writes `content` to `name` in the scratch folder and runs `argv`
    /// on it; a complaint is the tool's exit status and output.
    fn run_on(&self, name: &str, content: &str, argv: &[&str]) -> Option<String> {
        let file = self.dir.join(name);
        std::fs::write(&file, content).ok()?;
        let out = Command::new(argv[0])
            .args(&argv[1..])
            .arg(&file)
            .output()
            .ok()?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        let unknown = ["Unknown parameter", "Ignoring unknown", "Error loading"];
        if out.status.success() && !unknown.iter().any(|u| stderr.contains(u)) {
            return None;
        }
        Some(format!("{} refused it: {}", argv.join(" "), stderr.trim()))
    }

    /// systemd-analyze verify on a unit and the timers beside it; a
    /// program that is not installed here is not a fault of the unit.
    fn unit(&self, path: &str, content: &str, units: &[(String, String)]) -> Option<String> {
        let dir = self.dir.join("units");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).ok()?;
        let name = Path::new(path).file_name()?.to_string_lossy().to_string();
        std::fs::write(dir.join(&name), content).ok()?;
        for (other, text) in units {
            let base = Path::new(other).file_name()?.to_string_lossy().to_string();
            if base != name && base.ends_with(".timer") {
                std::fs::write(dir.join(base), text).ok()?;
            }
        }
        let out = Command::new("systemd-analyze")
            .args(["verify", "--man=no"])
            .arg(dir.join(&name))
            .output()
            .ok()?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        let problems: Vec<&str> = stderr
            .lines()
            .filter(|l| !l.contains("is not executable") && !l.trim().is_empty())
            .filter(|l| !l.contains("not found") && !l.contains("Failed to"))
            .collect();
        (!problems.is_empty()).then(|| format!("systemd-analyze verify: {}", problems.join("; ")))
    }
}

/// A throwaway host key: `sshd -t` wants one, and its privilege
/// separation folder.
fn host_key(dir: &Path) -> Option<PathBuf> {
    let key = dir.join("ssh_host_ed25519_key");
    let _ = std::fs::remove_file(&key);
    let made = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .is_ok_and(|s| s.success());
    let _ = std::fs::create_dir_all("/run/sshd");
    made.then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_of_its_own_is_found_however_it_breaks() {
        assert!(injected_line("[x]\n   HEARTHFUZZ = 1\n").is_some());
        assert!(injected_line("a = x\rHEARTHFUZZ").is_some());
        assert!(injected_line("a = x\u{85}HEARTHFUZZ").is_some());
        assert!(
            injected_line("path = /x HEARTHFUZZ\n").is_none(),
            "inside a line is data"
        );
    }
}
