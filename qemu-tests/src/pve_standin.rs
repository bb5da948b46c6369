//! A stand-in for the Proxmox VE repository, whose servers are out of reach
//! here: packages with Proxmox's names and dependency shapes, signed by a
//! key made for the test, laid out as download.proxmox.com/debian/pve is.
//!
//! Its kernel package is Debian's kernel with the zfs module that Hearth's
//! cache built for it, renamed: like Proxmox's, a kernel that carries ZFS,
//! so the image needs no zfs-dkms. pve-manager serves a line on 8006 (the
//! web UI's port) and carries pvesm, pct and qm that record what they are
//! asked. What this proves is Hearth's side: the build and install logic.
//! What it cannot prove is Proxmox's own packages.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

/// Where the stand-in is served, as the real one: URL path and component.
pub const PATH: &str = "debian/pve";
pub const SUITE: &str = "trixie";
pub const COMPONENT: &str = "pve-no-subscription";
/// The key file, binary OpenPGP as Proxmox publishes it.
pub const KEY_FILE: &str = "proxmox-release-trixie.gpg";
/// What the web UI stand-in answers on 8006.
pub const WEB_UI_LINE: &str = "Proxmox VE web UI (Hearth's stand-in)";

pub struct StandIn {
    /// The key's SHA-256, for the profile's key-sha256.
    pub key_sha256: String,
}

/// Builds the repository under `www` from Debian's kernel package for
/// `kernel` in the apt cache and its zfs module in the module cache.
pub fn build(www: &Path, work: &Path, cache: &Path, kernel: &str) -> Result<StandIn> {
    let home = work.join("gnupg");
    fs::create_dir_all(&home)?;
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&home, fs::Permissions::from_mode(0o700))?;
    gpg(
        &home,
        &[
            "--quick-gen-key",
            "Proxmox stand-in <standin@hearth.invalid>",
            "ed25519",
            "sign",
            "never",
        ],
    )?;
    let key = Command::new("gpg")
        .arg("--homedir")
        .arg(&home)
        .args(["--batch", "--export", "standin@hearth.invalid"])
        .output()
        .context("gpg")?;
    if key.stdout.is_empty() {
        bail!("gpg exported no key");
    }
    fs::create_dir_all(www)?;
    fs::write(www.join(KEY_FILE), &key.stdout)?;
    let series = kernel.split('.').take(2).collect::<Vec<_>>().join(".");
    let debs = vec![
        kernel_deb(work, cache, kernel, &series)?,
        deb(
            work,
            "proxmox-default-kernel",
            &format!("Depends: proxmox-kernel-{series}\n"),
            &[],
        )?,
        deb(
            work,
            "proxmox-ve",
            "Depends: proxmox-default-kernel, pve-manager, pve-cluster\n",
            &[],
        )?,
        deb(work, "pve-manager", "", &manager_files())?,
        deb(
            work,
            "pve-cluster",
            "",
            &[(CLUSTER_UNIT_PATH, CLUSTER_UNIT.into(), 0o644)],
        )?,
        keyring_deb(work, &key.stdout)?,
    ];
    publish(www, &home, &debs)?;
    Ok(StandIn {
        key_sha256: hex(&Sha256::digest(&key.stdout)),
    })
}

const CLUSTER_UNIT_PATH: &str = "/usr/lib/systemd/system/pve-cluster.service";
const CLUSTER_UNIT: &str = "[Unit]\nDescription=pve-cluster (Hearth's stand-in)\n[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n";

/// pveproxy on 8006, and pvesm, pct and qm that log their arguments and
/// answer `status` for what they made.
fn manager_files() -> Vec<(&'static str, String, u32)> {
    let proxy = format!(
        "[Unit]\nDescription=pveproxy (Hearth's stand-in)\n[Service]\nExecStart=/usr/bin/systemd-socket-activate --accept --inetd -l 8006 /bin/echo \"{WEB_UI_LINE}\"\n[Install]\nWantedBy=multi-user.target\n"
    );
    let tool = "#!/bin/sh\n# Hearth's stand-in: records the call; `status ID` succeeds once ID was made.\n\
                echo \"$(basename \"$0\") $*\" >> /var/log/pve-standin.log\n\
                case \"$1\" in status) grep -q \"^$(basename \"$0\") \\(create\\|add [a-z]*\\) $2 \" /var/log/pve-standin.log ;; esac\n";
    let status = "#!/bin/sh\necho \"pvesm $*\" >> /var/log/pve-standin.log\n\
                  case \"$1\" in status) grep -q \"^pvesm add [a-z]* $3 \" /var/log/pve-standin.log ;; esac\n";
    vec![
        ("/usr/lib/systemd/system/pveproxy.service", proxy, 0o644),
        ("/usr/sbin/pct", tool.into(), 0o755),
        ("/usr/sbin/qm", tool.into(), 0o755),
        ("/usr/sbin/pvesm", status.into(), 0o755),
    ]
}

/// Debian's kernel package renamed `proxmox-kernel-<kernel>-standin`,
/// providing `proxmox-kernel-<series>` and `zfs-modules` (Debian's name
/// for a package that carries the module), with the zfs and spl modules in
/// /lib/modules/<kernel>/zfs as Proxmox ships them. Its own maintainer
/// scripts (depmod, the initramfs, GRUB) run as they do for Debian's.
fn kernel_deb(work: &Path, cache: &Path, kernel: &str, series: &str) -> Result<PathBuf> {
    let apt = cache.join("apt");
    let debian = fs::read_dir(&apt)
        .with_context(|| format!("{}", apt.display()))?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("linux-image-{kernel}_")))
        })
        .with_context(|| {
            format!(
                "no linux-image-{kernel} package in {} (build the minimal ISO first)",
                apt.display()
            )
        })?;
    let tree = work.join("kernel-tree");
    let _ = fs::remove_dir_all(&tree);
    run(Command::new("dpkg-deb").arg("-R").arg(&debian).arg(&tree))?;
    let control = fs::read_to_string(tree.join("DEBIAN/control"))?;
    let control: String = control
        .lines()
        .filter(|l| !l.starts_with("Provides:") && !l.starts_with("Package:"))
        .map(|l| format!("{l}\n"))
        .collect();
    fs::write(
        tree.join("DEBIAN/control"),
        format!("Package: proxmox-kernel-{kernel}-standin\nProvides: proxmox-kernel-{series}, zfs-modules\n{control}"),
    )?;
    let modules = tree.join(format!("usr/lib/modules/{kernel}/zfs"));
    fs::create_dir_all(&modules)?;
    let tarball = module_tarball(&cache.join("zfs-modules"), kernel)
        .context("no zfs module in the module cache for this kernel")?;
    let unpacked = work.join("zfs-modules");
    let _ = fs::remove_dir_all(&unpacked);
    fs::create_dir_all(&unpacked)?;
    run(Command::new("tar")
        .arg("-xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(&unpacked))?;
    let built = unpacked.join(format!("dkms_main_tree/{kernel}/x86_64/module"));
    for module in ["zfs.ko.xz", "spl.ko.xz"] {
        fs::copy(built.join(module), modules.join(module))?;
    }
    let out = work.join(format!("proxmox-kernel-{kernel}-standin.deb"));
    run(Command::new("dpkg-deb")
        .args(["--root-owner-group", "--build"])
        .arg(&tree)
        .arg(&out))?;
    Ok(out)
}

fn keyring_deb(work: &Path, key: &[u8]) -> Result<PathBuf> {
    let path = "/usr/share/keyrings/proxmox-archive-keyring.gpg";
    let out = deb(
        work,
        "proxmox-archive-keyring",
        "",
        &[(path, String::new(), 0o644)],
    )?;
    // The key is binary: lay it in the tree and build again.
    let tree = work.join("proxmox-archive-keyring");
    fs::write(tree.join(path.trim_start_matches('/')), key)?;
    run(Command::new("dpkg-deb")
        .args(["--root-owner-group", "--build"])
        .arg(&tree)
        .arg(&out))?;
    Ok(out)
}

/// A package of `files` (path, content, mode) with `fields` added to its control.
fn deb(work: &Path, name: &str, fields: &str, files: &[(&str, String, u32)]) -> Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let tree = work.join(name);
    let _ = fs::remove_dir_all(&tree);
    fs::create_dir_all(tree.join("DEBIAN"))?;
    fs::write(
        tree.join("DEBIAN/control"),
        format!("Package: {name}\nVersion: 9.0.0~standin\nArchitecture: all\n{fields}Maintainer: Hearth tests <tests@hearth.invalid>\nDescription: Hearth's stand-in for Proxmox VE's {name}\n"),
    )?;
    for (path, content, mode) in files {
        let at = tree.join(path.trim_start_matches('/'));
        fs::create_dir_all(at.parent().context("a folder")?)?;
        fs::write(&at, content)?;
        fs::set_permissions(&at, fs::Permissions::from_mode(*mode))?;
    }
    let out = work.join(format!("{name}.deb"));
    run(Command::new("dpkg-deb")
        .args(["--root-owner-group", "--build"])
        .arg(&tree)
        .arg(&out))?;
    Ok(out)
}

/// The pool, Packages, Release and InRelease of the suite's component.
fn publish(www: &Path, home: &Path, debs: &[PathBuf]) -> Result<()> {
    let root = www.join(PATH);
    let pool = root.join("pool");
    fs::create_dir_all(&pool)?;
    let mut packages = String::new();
    for deb in debs {
        let name = deb
            .file_name()
            .context("a file")?
            .to_string_lossy()
            .to_string();
        fs::copy(deb, pool.join(&name))?;
        let bytes = fs::read(deb)?;
        let fields = Command::new("dpkg-deb").arg("-f").arg(deb).output()?;
        let _ = writeln!(
            packages,
            "{}Filename: pool/{name}\nSize: {}\nSHA256: {}\n",
            String::from_utf8_lossy(&fields.stdout),
            bytes.len(),
            hex(&Sha256::digest(&bytes))
        );
    }
    let dist = root.join("dists").join(SUITE);
    let index = dist.join(COMPONENT).join("binary-amd64");
    fs::create_dir_all(&index)?;
    fs::write(index.join("Packages"), &packages)?;
    let release = format!(
        "Origin: Proxmox\nLabel: Proxmox Debian Repository\nSuite: stable\nCodename: {SUITE}\nDate: {}\nArchitectures: amd64\nComponents: {COMPONENT}\nSHA256:\n {} {} {COMPONENT}/binary-amd64/Packages\n",
        httpdate(),
        hex(&Sha256::digest(packages.as_bytes())),
        packages.len()
    );
    fs::write(dist.join("Release"), release)?;
    let (release, inrelease) = (dist.join("Release"), dist.join("InRelease"));
    gpg(
        home,
        &[
            "--clearsign",
            "-o",
            &inrelease.display().to_string(),
            &release.display().to_string(),
        ],
    )
}

fn httpdate() -> String {
    let out = Command::new("date").args(["-u", "-R"]).output();
    out.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn gpg(home: &Path, args: &[&str]) -> Result<()> {
    run(Command::new("gpg")
        .arg("--homedir")
        .arg(home)
        .args(["--batch", "--pinentry-mode", "loopback", "--passphrase", ""])
        .args(args))
}

fn run(command: &mut Command) -> Result<()> {
    let out = command.output().with_context(|| format!("{command:?}"))?;
    if !out.status.success() {
        bail!("{command:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A DKMS tarball for `kernel` in the module cache, whichever key signed
/// it (the cache keeps modules by signing key, then by kernel).
fn module_tarball(modules: &Path, kernel: &str) -> Option<PathBuf> {
    let by_key = fs::read_dir(modules)
        .ok()?
        .flatten()
        .map(|e| e.path().join(kernel));
    std::iter::once(modules.join(kernel))
        .chain(by_key)
        .filter_map(|dir| fs::read_dir(dir).ok())
        .flat_map(|entries| entries.flatten().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "gz"))
}
