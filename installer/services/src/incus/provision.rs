//! Incus's first-boot work, each step asking Incus whether its object
//! exists before making it.

use std::path::Path;

use anyhow::Result;

use crate::first_boot::Outcome;
use crate::runner::Runner;

pub fn init(preseed: &str, dataset: &str, runner: &Runner) -> Result<Outcome> {
    let (code, _) = runner.query("incus", &["storage", "show", "default"])?;
    if code == Some(0) {
        return Ok(Outcome::Unchanged);
    }
    // A kept pool whose Incus state was on the lost root: Incus refuses a
    // dataset that is not empty, and only its interactive recovery brings
    // the guests back.
    let (_, children) = runner.query("zfs", &["list", "-H", "-o", "name", "-r", dataset])?;
    if children.lines().count() > 1 {
        return Ok(Outcome::NeedsAdmin(format!(
            "{dataset} holds guests from before this install: run `incus admin recover` \
             (storage pool `default`, driver zfs, source {dataset}), then `hearth provision`"
        )));
    }
    runner.run_with_input("incus", &["admin", "init", "--preseed"], preseed)?;
    Ok(Outcome::Changed(
        "storage pool default, default profile".into(),
    ))
}

pub fn image(alias: &str, metadata: &Path, rootfs: &Path, runner: &Runner) -> Result<Outcome> {
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

pub fn guest(name: &str, args: &[String], runner: &Runner) -> Result<Outcome> {
    let (code, _) = runner.query("incus", &["info", name])?;
    if code == Some(0) {
        return Ok(Outcome::Unchanged);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    runner.run("incus", &args)?;
    Ok(Outcome::Changed(format!("guest {name}")))
}
