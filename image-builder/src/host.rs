//! The build host: root, and the tools the build runs. On Debian or Ubuntu
//! missing tools are installed with apt (and said so); elsewhere the error
//! names exactly what to install.

use std::path::Path;

use anyhow::{bail, Result};
use hearth_system::runner::Runner;

/// (command, Debian package).
pub const BUILD_TOOLS: &[(&str, &str)] = &[
    ("mmdebstrap", "mmdebstrap"),
    ("mksquashfs", "squashfs-tools"),
    ("xorriso", "xorriso"),
    ("tar", "tar"),
    ("zstd", "zstd"),
];

pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

pub use hearth_system::runner::on_path;

pub fn ensure(tools: &[(&str, &str)], runner: &Runner) -> Result<()> {
    if !is_root() {
        bail!("image-builder build needs root: mmdebstrap and chroot make root-owned files; run it with sudo");
    }
    let missing: Vec<&(&str, &str)> = tools.iter().filter(|(cmd, _)| !on_path(cmd)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let packages: Vec<&str> = missing.iter().map(|(_, pkg)| *pkg).collect();
    let commands: Vec<&str> = missing.iter().map(|(cmd, _)| *cmd).collect();
    if !Path::new("/etc/debian_version").exists() || !on_path("apt-get") {
        bail!(
            "missing tools: {}; install these packages: {}",
            commands.join(", "),
            packages.join(" ")
        );
    }
    runner.note(&format!(
        "installing missing build tools with apt-get: {}",
        packages.join(" ")
    ));
    runner.run("apt-get", &["update", "-q"])?;
    let mut args = vec!["install", "-y", "-q", "--no-install-recommends"];
    args.extend(&packages);
    runner.run("apt-get", &args)?;
    Ok(())
}
