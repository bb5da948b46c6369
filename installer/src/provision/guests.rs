//! First-boot tasks for guests and apps, each asking the tool whether its
//! object exists before making it.

use std::path::Path;

use anyhow::{Context, Result};

use super::Outcome;
use crate::runner::Runner;

pub fn ssh_key(path: &Path, runner: &Runner) -> Result<Outcome> {
    if path.is_file() {
        return Ok(Outcome::Unchanged);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = path.display().to_string();
    runner.run(
        "ssh-keygen",
        &["-q", "-t", "ed25519", "-N", "", "-C", "hearth", "-f", &file],
    )?;
    Ok(Outcome::Changed(format!("key pair {file}{{,.pub}}")))
}

pub fn incus_image(
    alias: &str,
    metadata: &Path,
    rootfs: &Path,
    runner: &Runner,
) -> Result<Outcome> {
    let (code, _) = runner.query("incus", &["image", "info", alias])?;
    if code == Some(0) {
        return Ok(Outcome::Unchanged);
    }
    runner.run(
        "incus",
        &[
            "image",
            "import",
            &metadata.display().to_string(),
            &rootfs.display().to_string(),
            "--alias",
            alias,
        ],
    )?;
    Ok(Outcome::Changed(format!("image {alias}")))
}

pub fn incus_guest(name: &str, args: &[String], runner: &Runner) -> Result<Outcome> {
    let (code, _) = runner.query("incus", &["info", name])?;
    if code == Some(0) {
        return Ok(Outcome::Unchanged);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    runner.run("incus", &args)?;
    Ok(Outcome::Changed(format!("guest {name}")))
}

pub fn docker_image(tag: &str, rootfs: &Path, runner: &Runner) -> Result<Outcome> {
    let (code, _) = runner.query("docker", &["image", "inspect", tag])?;
    if code == Some(0) {
        return Ok(Outcome::Unchanged);
    }
    runner.run("docker", &["import", &rootfs.display().to_string(), tag])?;
    Ok(Outcome::Changed(format!("image {tag}")))
}

pub fn copy_file(from: &Path, to: &Path) -> Result<Outcome> {
    if to.is_file() {
        return Ok(Outcome::Unchanged);
    }
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::copy(from, to)
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    Ok(Outcome::Changed(to.display().to_string()))
}

pub fn proxmox_storage(name: &str, args: &[String], runner: &Runner) -> Result<Outcome> {
    let (code, _) = runner.query("pvesm", &["status", "--storage", name])?;
    if code == Some(0) {
        return Ok(Outcome::Unchanged);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    runner.run("pvesm", &args)?;
    Ok(Outcome::Changed(format!("storage {name}")))
}

pub fn proxmox_guest(tool: &str, id: u32, args: &[String], runner: &Runner) -> Result<Outcome> {
    let id = id.to_string();
    let (code, _) = runner.query(tool, &["status", &id])?;
    if code == Some(0) {
        return Ok(Outcome::Unchanged);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    runner.run(tool, &args)?;
    Ok(Outcome::Changed(format!("guest {id}")))
}
