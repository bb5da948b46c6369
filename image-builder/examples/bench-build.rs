//! Prints what building Hearth's ISO costs, measured in one run on this
//! machine: a cold build (empty cache, packages downloaded), a warm rebuild
//! after an overlay change, inject-answer, the ISO's size, and Debian's
//! live-build making a live ISO from the same package list (the ratio).
//! Then the ISO of every shipped profile, from the same (now warm) cache.
//! Needs root; takes a while (a cold build, live-build, one base per
//! package set).
//!
//!     cargo run --release -p image-builder --example bench-build [-- PROFILE] [--skip-live-build] [--skip-sizes]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use image_builder::build::{self, default_workspace};
use image_builder::rootfs::{copy_dir, LIVE_PACKAGES};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let profile = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .cloned()
        .unwrap_or_else(|| "homelab".into());
    let skip_live_build = args.iter().any(|a| a == "--skip-live-build");
    let skip_sizes = args.iter().any(|a| a == "--skip-sizes");
    let scratch = std::env::temp_dir().join(format!("hearth-bench-build-{}", std::process::id()));
    fs::create_dir_all(&scratch)?;

    // A copy of the workspace's inputs, so the overlay change stays here.
    let workspace = scratch.join("workspace");
    // Every input the build hashes: the hearth layer reads apps/ too.
    for dir in ["profiles", "overlays", "apps"] {
        copy_dir(&default_workspace().join(dir), &workspace.join(dir))?;
    }
    fs::write(workspace.join("Cargo.toml"), "")?;
    let installer = release_installer()?;
    let options = build::Options {
        profile: workspace.join("profiles").join(format!("{profile}.toml")),
        answer: None,
        out: scratch.join("out"),
        cache: scratch.join("cache"),
        mirror: "http://deb.debian.org/debian".into(),
        security_mirror: build::DEFAULT_SECURITY_MIRROR.into(),
        installer: Some(installer),
        workspace: workspace.clone(),
        netboot: None,
    };

    let started = Instant::now();
    let built = build::build(&options)?;
    let cold = started.elapsed().as_secs_f64();

    fs::write(
        workspace.join("overlays/common/etc/hearth-bench"),
        format!("{:?}\n", Instant::now()),
    )?;
    let started = Instant::now();
    build::build(&options)?;
    let warm = started.elapsed().as_secs_f64();

    let answer = scratch.join("answer.toml");
    fs::write(&answer, "hostname = \"bench\"\n")?;
    let started = Instant::now();
    image_builder::inject::inject(&built.iso, &answer, &scratch.join("answered.iso"))?;
    let inject = started.elapsed().as_secs_f64();
    let size = fs::metadata(&built.iso)?.len();

    println!("profile {profile}");
    println!("cold build (empty cache):        {cold:8.1} s");
    println!(
        "warm rebuild (overlay changed):  {warm:8.1} s  ({:.1}% of cold)",
        warm * 100.0 / cold
    );
    println!("inject-answer:                   {inject:8.1} s");
    println!(
        "ISO size:                        {:8.1} MiB",
        size as f64 / 1048576.0
    );
    if !skip_live_build {
        let lb = live_build(&scratch.join("live-build"), &workspace, &profile)?;
        println!(
            "live-build, same packages:       {lb:8.1} s  (Hearth cold build is {:.2}x its time)",
            cold / lb
        );
    }
    if !skip_sizes {
        every_profile(&options, &workspace)?;
    }
    fs::remove_dir_all(&scratch).ok();
    Ok(())
}

/// The ISO of every shipped profile, built with the cache the cold build
/// filled: each package set makes its own base (the zfs module loaded).
fn every_profile(options: &build::Options, workspace: &Path) -> Result<()> {
    let mut names: Vec<String> = fs::read_dir(workspace.join("profiles"))?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            name.strip_suffix(".toml").map(str::to_string)
        })
        .collect();
    names.sort();
    for name in names {
        let one = build::Options {
            profile: workspace.join("profiles").join(format!("{name}.toml")),
            out: options.out.join(&name),
            ..options.clone()
        };
        let started = Instant::now();
        let built = build::build(&one)?;
        println!(
            "ISO {name:<14} {:8.1} MiB  (built in {:.1} s, warm package cache)",
            fs::metadata(&built.iso)?.len() as f64 / 1048576.0,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

fn release_installer() -> Result<PathBuf> {
    let manifest = default_workspace().join("Cargo.toml");
    let status = Command::new("cargo")
        .args([
            "build",
            "--release",
            "-q",
            "-p",
            "installer",
            "--manifest-path",
        ])
        .arg(&manifest)
        .status()?;
    if !status.success() {
        bail!("building the installer failed");
    }
    Ok(default_workspace().join("target/release/hearth"))
}

/// Debian's live-build with the same package list, timed from `lb config` to the ISO.
fn live_build(dir: &Path, workspace: &Path, profile: &str) -> Result<f64> {
    if Command::new("lb").arg("--version").output().is_err() {
        let status = Command::new("apt-get")
            .args([
                "install",
                "-y",
                "-q",
                "--no-install-recommends",
                "live-build",
            ])
            .status()?;
        if !status.success() {
            bail!("live-build is needed for the comparison (apt-get install live-build), or pass --skip-live-build");
        }
    }
    fs::create_dir_all(dir.join("config/package-lists"))?;
    let loaded =
        hearth_services::load_profile(&workspace.join("profiles").join(format!("{profile}.toml")))
            .map_err(|p| anyhow::anyhow!("{p}"))?;
    let mut packages = hearth_services::packages(&loaded.value);
    packages.extend(LIVE_PACKAGES.iter().map(|p| p.to_string()));
    packages.retain(|p| p != "linux-image-amd64" && p != "live-boot");
    fs::write(
        dir.join("config/package-lists/hearth.list.chroot"),
        packages.join("\n") + "\n",
    )?;
    let started = Instant::now();
    let config = Command::new("lb")
        .current_dir(dir)
        .args([
            "config",
            "--distribution",
            "trixie",
            "--archive-areas",
            "main contrib non-free-firmware",
        ])
        .args([
            "--binary-images",
            "iso-hybrid",
            "--debian-installer",
            "none",
            "--apt-recommends",
            "false",
        ])
        .args([
            "--bootloaders",
            "grub-efi",
            "--mirror-bootstrap",
            "http://deb.debian.org/debian",
            "--mirror-chroot",
            "http://deb.debian.org/debian",
            "--mirror-binary",
            "http://deb.debian.org/debian",
            // Only Debian's main archive is reachable from build machines here.
            "--security",
            "false",
        ])
        .status()
        .context("lb config")?;
    if !config.success() {
        bail!("lb config failed");
    }
    let status = Command::new("lb")
        .current_dir(dir)
        .arg("build")
        .status()
        .context("lb build")?;
    if !status.success() {
        bail!("lb build failed; see {}", dir.display());
    }
    Ok(started.elapsed().as_secs_f64())
}
