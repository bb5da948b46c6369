//! A local apt repository for a guest's `apt-get update`: the suite, its
//! updates and its security archive, empty but signed (InRelease) with a
//! key made for the test, whose armoured public half the answer carries.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

const COMPONENTS: [&str; 3] = ["main", "contrib", "non-free-firmware"];
/// SHA-256 of nothing: each Packages index is empty.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Lays out `root/debian` (SUITE, SUITE-updates) and `root/debian-security`
/// (SUITE-security); returns the signing key, ASCII-armoured.
pub fn build(root: &Path, suite: &str) -> Result<String> {
    let home = root.join("gnupg");
    fs::create_dir_all(&home)?;
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&home, fs::Permissions::from_mode(0o700))?;
    gpg(
        &home,
        &[
            "--quick-gen-key",
            "Hearth test archive <archive@hearth.invalid>",
            "ed25519",
            "sign",
            "never",
        ],
    )?;
    for (archive, dist, label) in [
        ("debian", suite.to_string(), "Debian"),
        ("debian", format!("{suite}-updates"), "Debian"),
        (
            "debian-security",
            format!("{suite}-security"),
            "Debian-Security",
        ),
    ] {
        let dir = root.join(archive).join("dists").join(&dist);
        let mut hashes = String::new();
        for component in COMPONENTS {
            let index = dir.join(component).join("binary-amd64");
            fs::create_dir_all(&index)?;
            fs::write(index.join("Packages"), "")?;
            let _ = writeln!(
                hashes,
                " {EMPTY_SHA256} 0 {component}/binary-amd64/Packages"
            );
        }
        let release = format!(
            "Origin: Debian\nLabel: {label}\nSuite: {dist}\nCodename: {dist}\nDate: {}\nArchitectures: amd64\nComponents: {}\nDescription: Hearth test archive\nSHA256:\n{hashes}",
            date()?,
            COMPONENTS.join(" ")
        );
        fs::write(dir.join("Release"), release)?;
        let (release, inrelease) = (dir.join("Release"), dir.join("InRelease"));
        gpg(
            &home,
            &[
                "--clearsign",
                "-o",
                &inrelease.display().to_string(),
                &release.display().to_string(),
            ],
        )?;
    }
    let key = Command::new("gpg")
        .arg("--homedir")
        .arg(&home)
        .args(["--batch", "--armor", "--export", "archive@hearth.invalid"])
        .output()
        .context("gpg (apt install gpg)")?;
    let armored = String::from_utf8_lossy(&key.stdout).to_string();
    if !armored.contains("BEGIN PGP PUBLIC KEY BLOCK") {
        bail!(
            "gpg exported no key: {}",
            String::from_utf8_lossy(&key.stderr)
        );
    }
    Ok(armored)
}

fn gpg(home: &Path, args: &[&str]) -> Result<()> {
    let out = Command::new("gpg")
        .arg("--homedir")
        .arg(home)
        .args([
            "--batch",
            "--yes",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
        ])
        .args(args)
        .output()
        .context("gpg (apt install gpg)")?;
    if !out.status.success() {
        bail!(
            "gpg {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// RFC 2822 date in UTC, as Release files carry it.
fn date() -> Result<String> {
    let out = Command::new("date")
        .args(["-u", "-R"])
        .output()
        .context("date")?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .trim()
        .replace("+0000", "UTC"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The host's own apt takes the repository, signature and all.
    #[test]
    fn the_hosts_apt_get_update_takes_it() {
        if !hearth_system::runner::on_path("gpg") || !hearth_system::runner::on_path("apt-get") {
            eprintln!("SKIP: gpg or apt-get missing (.ci/run installs gpg)");
            return;
        }
        let root = std::env::temp_dir().join(format!("hearth-apt-repo-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let key = build(&root.join("www"), "trixie").expect("repository");
        let server = crate::sinks::Sink::http(Some(root.join("www"))).expect("server");
        let parts = root.join("parts");
        fs::create_dir_all(&parts).expect("parts");
        let mut signed = String::from("Signed-By:\n");
        for line in key.trim().lines() {
            signed.push_str(&format!(" {}\n", if line.is_empty() { "." } else { line }));
        }
        let url = format!("http://127.0.0.1:{}", server.port);
        fs::write(
            parts.join("test.sources"),
            format!("Types: deb\nURIs: {url}/debian\nSuites: trixie trixie-updates\nComponents: main contrib non-free-firmware\n{signed}\nTypes: deb\nURIs: {url}/debian-security\nSuites: trixie-security\nComponents: main contrib non-free-firmware\n{signed}"),
        )
        .expect("sources");
        let lists = root.join("lists");
        fs::create_dir_all(lists.join("partial")).expect("lists");
        let out = Command::new("apt-get")
            .arg("update")
            .args(["-o", "Dir::Etc::sourcelist=/dev/null"])
            .arg("-o")
            .arg(format!("Dir::Etc::sourceparts={}", parts.display()))
            .arg("-o")
            .arg(format!("Dir::State::lists={}", lists.display()))
            .args(["-o", "APT::Sandbox::User=root"])
            .output()
            .expect("apt-get");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{text}");
        assert!(!text.contains("W: ") && !text.contains("E: "), "{text}");
        let _ = fs::remove_dir_all(&root);
    }
}
