//! The guest image: a small Debian root filesystem made by mmdebstrap,
//! carried on the ISO so Incus containers and compose apps start without
//! a registry. One tarball serves both: Incus imports it with a metadata
//! tarball beside it (a split image), Docker with `docker import`.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use hearth_services::guests;
use hearth_system::runner::Runner;
use serde_json::{json, Value};

/// Bump when the recipe below changes what the layer holds.
const RECIPE: u32 = 2;

/// systemd as init so Incus boots it; busybox gives apps a web server
/// and the shell tools a test needs. ifupdown with dhcpcd, not networkd:
/// where a container's /sys is writable, networkd waits for a udev that
/// never runs there, and the NIC never gets an address.
const PACKAGES: &[&str] = &[
    "systemd-sysv",
    "busybox",
    "ca-certificates",
    "ifupdown",
    "dhcpcd-base",
];

/// DHCP on the container's NIC.
const INTERFACES: &str = "auto lo\niface lo inet loopback\n\nauto eth0\niface eth0 inet dhcp\n";

pub fn inputs(suite: &str, mirror: &str, mmdebstrap: &str) -> Value {
    json!({
        "recipe": RECIPE,
        "suite": suite,
        "mirror": mirror,
        "packages": PACKAGES,
        "mmdebstrap": mmdebstrap,
    })
}

/// Writes `rootfs.tar.gz` and `metadata.tar.gz` into `out`.
pub fn build(
    suite: &str,
    mirror: &str,
    apt_cache: &Path,
    out: &Path,
    runner: &Runner,
) -> Result<()> {
    fs::create_dir_all(apt_cache)?;
    let cache = apt_cache.display().to_string();
    let network = format!(
        "printf '{}' > \"$1\"/etc/network/interfaces",
        INTERFACES.replace('\n', "\\n")
    );
    let args: Vec<String> = vec![
        "--mode=root".into(),
        "--variant=minbase".into(),
        "--aptopt=Apt::Install-Recommends \"false\"".into(),
        "--dpkgopt=path-exclude=/usr/share/{doc,man,info,locale}/*".into(),
        format!("--include={}", PACKAGES.join(",")),
        "--setup-hook=mkdir -p \"$1\"/var/cache/apt/archives/".into(),
        format!("--setup-hook=sync-in {cache} /var/cache/apt/archives/"),
        format!("--customize-hook=sync-out /var/cache/apt/archives {cache}"),
        format!("--customize-hook={network}"),
        "--customize-hook=rm -f \"$1\"/etc/machine-id \"$1\"/etc/hostname".into(),
        "--customize-hook=touch \"$1\"/etc/machine-id".into(),
        suite.into(),
        out.join(guests::ROOTFS).display().to_string(),
        mirror.into(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    runner.run("mmdebstrap", &args)?;
    metadata(suite, out, runner)
}

fn metadata(suite: &str, out: &Path, runner: &Runner) -> Result<()> {
    let dir = out.join("metadata");
    fs::create_dir_all(&dir)?;
    let created = hearth_system::runner::epoch_seconds();
    let release = guests::release(suite);
    fs::write(
        dir.join("metadata.yaml"),
        format!(
            "architecture: x86_64\n\
             creation_date: {created}\n\
             properties:\n  \
               description: Debian {release} ({suite}), made by Hearth's image builder\n  \
               os: Debian\n  \
               release: {suite} {release}\n"
        ),
    )?;
    runner
        .run(
            "tar",
            &[
                "-C",
                &dir.display().to_string(),
                "-czf",
                &out.join(guests::METADATA).display().to_string(),
                "metadata.yaml",
            ],
        )
        .context("packing the image metadata")?;
    fs::remove_dir_all(&dir)?;
    Ok(())
}
