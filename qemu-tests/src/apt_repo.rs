//! A local apt repository for a guest's `apt-get update`: the suite, its
//! updates and its security archive, empty but signed (InRelease) with a
//! key made for the test, whose armoured public half the answer carries.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

const COMPONENTS: [&str; 3] = ["main", "contrib", "non-free-firmware"];

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
    index(root, suite, "")?;
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

/// Packages, Release and InRelease of every suite, signed again; the
/// suite's main component lists `packages` (stanzas), the rest are empty.
fn index(root: &Path, suite: &str, packages: &str) -> Result<()> {
    let home = root.join("gnupg");
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
            let text = if dist == suite && component == "main" {
                packages
            } else {
                ""
            };
            fs::write(index.join("Packages"), text)?;
            let _ = writeln!(
                hashes,
                " {} {} {component}/binary-amd64/Packages",
                hex_sha256(text.as_bytes()),
                text.len()
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
    Ok(())
}

/// The suite's main component holds exactly `debs` (built by [`deb`]),
/// as apt sees it on its next `apt-get update`.
pub fn publish(root: &Path, suite: &str, debs: &[std::path::PathBuf]) -> Result<()> {
    let pool = root.join("debian/pool/main");
    fs::create_dir_all(&pool)?;
    let mut stanzas = String::new();
    for deb in debs {
        let name = deb
            .file_name()
            .context("a .deb file")?
            .to_string_lossy()
            .to_string();
        fs::copy(deb, pool.join(&name))?;
        let bytes = fs::read(deb)?;
        let fields = Command::new("dpkg-deb")
            .arg("-f")
            .arg(deb)
            .output()
            .context("dpkg-deb")?;
        if !fields.status.success() {
            bail!(
                "dpkg-deb -f {}: {}",
                deb.display(),
                String::from_utf8_lossy(&fields.stderr)
            );
        }
        let _ = writeln!(
            stanzas,
            "{}Filename: pool/main/{name}\nSize: {}\nSHA256: {}\n",
            String::from_utf8_lossy(&fields.stdout),
            bytes.len(),
            hex_sha256(&bytes)
        );
    }
    index(root, suite, &stanzas)
}

/// A small package `name` at `version` holding `files` (path, content),
/// built with dpkg-deb into `dir`.
pub fn deb(
    dir: &Path,
    name: &str,
    version: &str,
    files: &[(&str, &str)],
) -> Result<std::path::PathBuf> {
    let tree = dir.join(format!("{name}-{version}"));
    let _ = fs::remove_dir_all(&tree);
    fs::create_dir_all(tree.join("DEBIAN"))?;
    fs::write(
        tree.join("DEBIAN/control"),
        format!("Package: {name}\nVersion: {version}\nArchitecture: all\nMaintainer: Hearth tests <tests@hearth.invalid>\nDescription: Hearth test package\n"),
    )?;
    for (path, content) in files {
        let at = tree.join(path.trim_start_matches('/'));
        fs::create_dir_all(at.parent().context("a file in a folder")?)?;
        fs::write(at, content)?;
    }
    let out = dir.join(format!("{name}_{version}_all.deb"));
    let built = Command::new("dpkg-deb")
        .args(["--root-owner-group", "--build"])
        .arg(&tree)
        .arg(&out)
        .output()
        .context("dpkg-deb")?;
    if !built.status.success() {
        bail!(
            "dpkg-deb --build: {}",
            String::from_utf8_lossy(&built.stderr)
        );
    }
    Ok(out)
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    format!("{:x}", Sha256::digest(bytes))
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
