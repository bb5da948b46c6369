//! Docker's first-boot work: the ISO's Debian image imported for the apps.

use std::path::Path;

use anyhow::Result;

use crate::first_boot::Outcome;
use crate::runner::Runner;

pub fn import_image(tag: &str, rootfs: &Path, runner: &Runner) -> Result<Outcome> {
    let (code, _) = runner.query("docker", &["image", "inspect", tag])?;
    if code == Some(0) {
        return Ok(Outcome::Unchanged);
    }
    runner.run("docker", &["import", &rootfs.display().to_string(), tag])?;
    Ok(Outcome::Changed(format!("image {tag}")))
}
