//! WireGuard's first-boot work: key pairs made here, and each generated
//! peer's client config with its QR code.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::first_boot::{under, write_private, Outcome};
use crate::runner::Runner;

pub fn key_pair(base: &Path, runner: &Runner) -> Result<Outcome> {
    // Appended, not with_extension: a peer named "phone.anna" keeps its dot.
    let suffixed = |suffix: &str| PathBuf::from(format!("{}.{suffix}", base.display()));
    let key = suffixed("key");
    let public = suffixed("pub");
    if key.is_file() && public.is_file() {
        return Ok(Outcome::Unchanged);
    }
    let private = if key.is_file() {
        fs::read_to_string(&key)?.trim().to_string()
    } else {
        runner
            .run_secret("wg", &["genkey"], None)?
            .trim()
            .to_string()
    };
    let derived = runner.run_secret("wg", &["pubkey"], Some(&private))?;
    write_private(&key, &format!("{private}\n"))?;
    fs::write(&public, format!("{}\n", derived.trim()))?;
    Ok(Outcome::Changed(format!(
        "key pair {}",
        suffixed("{key,pub}").display()
    )))
}

/// A key file an earlier first-boot step made, trimmed.
fn read_key(root: &Path, path: &str) -> Result<String> {
    fs::read_to_string(under(root, Path::new(path)))
        .map(|t| t.trim().to_string())
        .with_context(|| format!("reading {path} (made by the key steps before this one)"))
}

/// wg0.conf completed with the keys first boot made.
pub fn server(root: &Path, template: &str, peers: &[super::GeneratedPeer]) -> Result<Outcome> {
    let read = |path: String| read_key(root, &path);
    let private = read(format!("{}.key", super::SERVER_KEY))?;
    let keys = peers
        .iter()
        .map(|p| read(format!("{}.pub", super::peer_key(&p.name).display())))
        .collect::<Result<Vec<_>>>()?;
    let wanted = super::complete_conf(template, &private, peers, &keys);
    let conf = under(root, Path::new(super::CONFIG));
    if fs::read_to_string(&conf).ok().as_deref() == Some(wanted.as_str()) {
        return Ok(Outcome::Unchanged);
    }
    write_private(&conf, &wanted)?;
    Ok(Outcome::Changed(conf.display().to_string()))
}

pub fn client(
    root: &Path,
    name: &str,
    address: &str,
    endpoint: &str,
    allowed_ips: &[String],
    runner: &Runner,
) -> Result<Outcome> {
    let read = |path: String| read_key(root, &path);
    let base = super::peer_key(name);
    let private = read(format!("{}.key", base.display()))?;
    let server = read(format!("{}.pub", super::SERVER_KEY))?;
    let wanted = super::client_conf(&private, address, &server, endpoint, allowed_ips);
    let conf = under(root, &PathBuf::from(format!("{}.conf", base.display())));
    let png = conf.with_extension("png");
    if fs::read_to_string(&conf).ok().as_deref() == Some(wanted.as_str()) && png.is_file() {
        return Ok(Outcome::Unchanged);
    }
    write_private(&conf, &wanted)?;
    // The QR code holds the private key too: root only, like the config.
    let shown = png.display().to_string();
    // Made private before qrencode writes into it (it keeps the mode).
    hearth_system::files::write_mode(&png, b"", 0o600)?;
    runner.run_secret(
        "qrencode",
        &["-t", "png", "-r", &conf.display().to_string(), "-o", &shown],
        None,
    )?;
    fs::set_permissions(&png, fs::Permissions::from_mode(0o600))?;
    Ok(Outcome::Changed(format!(
        "{} and {}",
        conf.display(),
        png.display()
    )))
}
