//! Checking an installed machine from outside, as its admin would: ssh with
//! the key the answer file carried, through a forwarded port.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// A port on 127.0.0.1 nothing listens on now.
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A fresh ed25519 key pair; returns (private key path, public key line).
pub fn key_pair(dir: &Path) -> Result<(PathBuf, String)> {
    std::fs::create_dir_all(dir)?;
    let key = dir.join("id_ed25519");
    let _ = std::fs::remove_file(&key);
    let _ = std::fs::remove_file(key.with_extension("pub"));
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "hearth-test", "-f"])
        .arg(&key)
        .status()?;
    if !status.success() {
        bail!("ssh-keygen failed");
    }
    let public = std::fs::read_to_string(key.with_extension("pub"))?;
    Ok((key, public.trim().to_string()))
}

/// Runs `command` as `user` over ssh; returns stdout, or the error with stderr.
/// ssh to the guest behind `port` with `key`, never asking anything.
fn ssh(key: &Path, port: u16) -> Command {
    let mut cmd = Command::new("ssh");
    cmd.args([
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=10",
        "-p",
        &port.to_string(),
        "-i",
    ])
    .arg(key);
    cmd
}

/// The ssh command line that runs `command` as `user`, to spawn with pipes.
pub fn command(key: &Path, port: u16, user: &str, command: &str) -> Command {
    command_with(key, port, &[], user, command)
}

/// As `command`, with more ssh options (before the destination).
pub fn command_with(key: &Path, port: u16, options: &[&str], user: &str, command: &str) -> Command {
    let mut cmd = ssh(key, port);
    cmd.args(options)
        .arg(format!("{user}@127.0.0.1"))
        .arg(command);
    cmd
}

pub fn run(key: &Path, port: u16, user: &str, command: &str) -> Result<String> {
    let out = ssh(key, port)
        .arg(format!("{user}@127.0.0.1"))
        .arg(command)
        .output()
        .context("ssh (apt install openssh-client)")?;
    if !out.status.success() {
        bail!(
            "ssh {user}: `{command}` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).to_string())
}

/// Forwards host port `local` to `remote` (host:port as the guest sees
/// it) through ssh, as an admin reaches a service bound to localhost.
/// The tunnel lasts as long as the returned child.
pub fn tunnel(key: &Path, port: u16, local: u16, remote: &str) -> Result<std::process::Child> {
    let child = ssh(key, port)
        .args(["-o", "ExitOnForwardFailure=yes", "-N", "-L"])
        .arg(format!("127.0.0.1:{local}:{remote}"))
        .arg("root@127.0.0.1")
        .spawn()
        .context("ssh (apt install openssh-client)")?;
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", local)).is_err() {
        if started.elapsed() > Duration::from_secs(20) {
            bail!("the ssh tunnel to {remote} did not open");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(child)
}

/// Retries until ssh works (the guest is still booting) or time runs out.
pub fn wait(key: &Path, port: u16, user: &str, timeout: Duration) -> Result<()> {
    let started = Instant::now();
    loop {
        match run(key, port, user, "true") {
            Ok(_) => return Ok(()),
            Err(err) if started.elapsed() > timeout => {
                return Err(err.context(format!("no ssh after {}s", timeout.as_secs())))
            }
            Err(_) => std::thread::sleep(Duration::from_secs(5)),
        }
    }
}
