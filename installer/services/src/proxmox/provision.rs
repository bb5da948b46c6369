//! Proxmox VE's first-boot work, each step asking pvesm, pct or qm whether
//! its object exists before making it.

use anyhow::{Context, Result};
use std::path::Path;

use crate::first_boot::Outcome;
use crate::runner::Runner;

pub fn storage(name: &str, args: &[String], runner: &Runner) -> Result<Outcome> {
    let (code, _) = runner.query("pvesm", &["status", "--storage", name])?;
    if code == Some(0) {
        return Ok(Outcome::Unchanged);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    runner.run("pvesm", &args)?;
    Ok(Outcome::Changed(format!("storage {name}")))
}

pub fn guest(tool: &str, id: u32, args: &[String], runner: &Runner) -> Result<Outcome> {
    let id = id.to_string();
    let (code, _) = runner.query(tool, &["status", &id])?;
    if code == Some(0) {
        return Ok(Outcome::Unchanged);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    runner.run(tool, &args)?;
    Ok(Outcome::Changed(format!("guest {id}")))
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
