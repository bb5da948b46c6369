//! syncoid's first-boot work: the key it logs in to other hosts with.

use std::path::Path;

use anyhow::Result;

use crate::first_boot::Outcome;
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
