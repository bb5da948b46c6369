//! The ISO under test: built once per run by the image builder (whose
//! cache makes a rebuild of unchanged inputs nearly free), or taken from
//! $HEARTH_ISO.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use anyhow::Result;
use image_builder::build::{self, default_workspace};
use image_builder::cache::Cache;

static BUILT: Mutex<Vec<(String, PathBuf)>> = Mutex::new(Vec::new());
static MACHINES: Mutex<()> = Mutex::new(());

/// The ISO of a shipped profile.
pub fn built(profile: &str) -> Result<PathBuf> {
    if let Some(given) = std::env::var_os("HEARTH_ISO") {
        return Ok(PathBuf::from(given));
    }
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, iso)) = built.iter().find(|(p, _)| p == profile) {
        return Ok(iso.clone());
    }
    let workspace = default_workspace();
    let path = workspace.join("profiles").join(format!("{profile}.toml"));
    let iso = built_from(&path, profile)?;
    built.push((profile.to_string(), iso.clone()));
    Ok(iso)
}

/// The ISO of a profile file anywhere, built into target/qemu-tests/iso/<out>.
pub fn built_from(profile: &Path, out: &str) -> Result<PathBuf> {
    Ok(build::build(&options(profile, out))?.iso)
}

/// The netboot folder of a shipped profile (`build --netboot`), whose iPXE
/// script a chained script points at its server with ${hearth-url}.
pub fn netboot(profile: &str) -> Result<PathBuf> {
    let path = default_workspace()
        .join("profiles")
        .join(format!("{profile}.toml"));
    let mut options = options(&path, &format!("{profile}-netboot"));
    options.netboot = Some(image_builder::netboot::default_url(profile));
    let built = build::build(&options)?;
    built
        .netboot
        .ok_or_else(|| anyhow::anyhow!("no netboot folder"))
}

/// The installer binary the builds carry (built by them).
pub fn installer() -> PathBuf {
    default_workspace().join("target/release/hearth")
}

fn options(profile: &Path, out: &str) -> build::Options {
    let workspace = default_workspace();
    build::Options {
        profile: profile.to_path_buf(),
        answer: None,
        out: workspace.join("target/qemu-tests/iso").join(out),
        cache: Cache::default_root(),
        mirror: std::env::var("HEARTH_MIRROR")
            .unwrap_or_else(|_| "http://deb.debian.org/debian".into()),
        security_mirror: std::env::var("HEARTH_SECURITY_MIRROR")
            .unwrap_or_else(|_| build::DEFAULT_SECURITY_MIRROR.into()),
        installer: None,
        workspace,
        netboot: None,
    }
}

/// The kernel inside an ISO, for the accelerator probe.
pub fn kernel_of(iso: &Path, scratch: &Path) -> Result<PathBuf> {
    let kernel = scratch.join("vmlinuz");
    if !kernel.exists() {
        let runner = hearth_system::runner::Runner::new(None, false)?;
        runner.run(
            "xorriso",
            &[
                "-osirrox",
                "on",
                "-indev",
                &iso.display().to_string(),
                "-extract",
                "/live/vmlinuz",
                &kernel.display().to_string(),
            ],
        )?;
    }
    Ok(kernel)
}

/// The build's certificate from the ISO's EFI image, as PEM (what
/// virt-fw-vars enrolls); it is at the image's root, where MokManager's
/// "Enroll key from disk" shows it.
pub fn build_certificate(iso: &Path, scratch: &Path) -> Result<PathBuf> {
    let runner = hearth_system::runner::Runner::new(None, false)?;
    let efi = scratch.join("efi.img");
    let der = scratch.join(hearth_system::secure_boot::BUILD_CERT);
    let pem = scratch.join("hearth-build.pem");
    let (iso, efi_path) = (iso.display().to_string(), efi.display().to_string());
    runner.run(
        "xorriso",
        &[
            "-osirrox", "on", "-indev", &iso, "-extract", "/efi.img", &efi_path,
        ],
    )?;
    let from = format!("::{}", hearth_system::secure_boot::BUILD_CERT);
    runner.run(
        "mcopy",
        &["-o", "-i", &efi_path, &from, &der.display().to_string()],
    )?;
    crate::machine::secure_boot::pem_of(&der, &pem)?;
    std::fs::remove_file(&efi)?;
    Ok(pem)
}

/// Machines run one at a time: two cores cannot carry two TCG guests well.
pub fn exclusive() -> MutexGuard<'static, ()> {
    MACHINES.lock().unwrap_or_else(|e| e.into_inner())
}

/// Why this machine cannot run QEMU scenarios, if it cannot.
pub fn unavailable() -> Option<String> {
    let root = image_builder::host::is_root();
    if !root {
        return Some("building the ISO needs root (CI runs these tests as root)".into());
    }
    if !image_builder::host::on_path("qemu-system-x86_64") {
        return Some("qemu-system-x86_64 is not installed (.ci/run installs it)".into());
    }
    if !Path::new("/usr/share/OVMF/OVMF_CODE_4M.fd").exists() {
        return Some("OVMF is not installed (.ci/run installs it)".into());
    }
    None
}
