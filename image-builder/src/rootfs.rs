//! The base layer: a Debian root filesystem made by mmdebstrap with the
//! profile's packages and the live tooling, the ZFS module built by DKMS
//! for its kernel, GRUB's boot images made with its own GRUB, and all of it
//! compressed once into base.squashfs.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use hearth_system::mounts::{chroot, Binds};
use hearth_system::runner::Runner;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::proxmox::{self, Repository};
use crate::trash::Trash;
use crate::zfs_module::{self, ModuleCache, Outcome};

/// Bump when the recipe below changes what a layer holds.
const RECIPE: u32 = 6;

/// What every live image needs besides the profile's own packages.
pub const LIVE_PACKAGES: &[&str] = &[
    "live-boot",
    "squashfs-tools",
    "udev",
    "kmod",
    "procps",
    "less",
];

/// dpkg without its syncs, for trees a build reads once and removes (a
/// crash leaves a `.partial` folder, never a layer).
pub const UNSAFE_IO: &str = "--dpkgopt=force-unsafe-io";

/// GRUB modules built into the boot images.
const GRUB_MODULES: &str =
    "part_gpt part_msdos fat iso9660 normal search search_fs_file search_fs_uuid \
configfile linux echo test ls cat serial terminal all_video gfxterm";

pub struct Request<'a> {
    pub suite: &'a str,
    pub mirror: &'a str,
    pub security_mirror: &'a str,
    pub packages: Vec<String>,
    /// The profile's locale, generated here once rather than at every install.
    pub locale: &'a str,
    /// The Proxmox VE repository, when base = "proxmox".
    pub proxmox: Option<Repository>,
    /// The fingerprint of the key the zfs module is signed with.
    pub signing: Option<String>,
}

/// Facts about a built base layer, kept in the layer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Facts {
    pub kernel: String,
    pub zfs: String,
    pub packages: Vec<(String, String)>,
    /// Whether DKMS compiled the zfs module or loaded an earlier build.
    #[serde(default)]
    pub zfs_module: String,
}

pub fn archives(suite: &str, mirror: &str, security: &str) -> Vec<String> {
    let components = "main contrib non-free-firmware";
    vec![
        format!("deb {mirror} {suite} {components}"),
        format!("deb {mirror} {suite}-updates {components}"),
        format!("deb {security} {suite}-security {components}"),
    ]
}

impl Request<'_> {
    /// The suite, its stable updates and its security archive: a fresh
    /// image ships current fixes. One-line sources, as mmdebstrap takes them.
    pub fn archives(&self) -> Vec<String> {
        archives(self.suite, self.mirror, self.security_mirror)
    }

    /// The installed server's apt sources: the same archives, as deb822.
    fn write_sources(&self, dir: &Path) -> Result<()> {
        use hearth_services::updates::{self, Key};
        fs::create_dir_all(dir)?;
        fs::write(
            dir.join("debian.sources"),
            updates::main_sources(self.mirror, self.suite, &Key::DebianKeyring),
        )?;
        fs::write(
            dir.join("debian-security.sources"),
            updates::security_sources(self.security_mirror, self.suite, &Key::DebianKeyring),
        )?;
        Ok(())
    }

    pub fn inputs(&self, mmdebstrap_version: &str) -> Value {
        json!({
            "recipe": RECIPE,
            "suite": self.suite,
            "archives": self.archives(),
            "components": "main,contrib,non-free-firmware",
            "packages": self.packages,
            "locale": self.locale,
            "mmdebstrap": mmdebstrap_version,
            "proxmox": self.proxmox.as_ref().map(|r| [&r.sources, &r.preferences]),
            "signing": self.signing,
        })
    }
}

/// Builds the layer into `out`: base.squashfs, vmlinuz, initrd.img, grub/, facts.json.
pub fn build(
    request: &Request,
    apt_cache: &Path,
    modules: &ModuleCache,
    out: &Path,
    runner: &Runner,
    trash: &Trash,
) -> Result<Facts> {
    let root = out.join("rootfs");
    fs::create_dir_all(apt_cache)?;
    let include = request.packages.join(",");
    let cache = apt_cache.display().to_string();
    let sync_in = format!("sync-in {cache} /var/cache/apt/archives/");
    let sync_out = format!("sync-out /var/cache/apt/archives {cache}");
    let mut args: Vec<String> = [
        "--mode=root",
        "--variant=minbase",
        "--components=main,contrib,non-free-firmware",
        "--aptopt=Apt::Install-Recommends \"false\"",
        "--skip=download/empty",
        // The tree is squashed, then removed: dpkg's syncs only slow it.
        UNSAFE_IO,
        "--setup-hook=mkdir -p \"$1\"/var/cache/apt/archives/",
    ]
    .map(String::from)
    .to_vec();
    args.push(format!("--include={include}"));
    args.push(format!("--setup-hook={sync_in}"));
    args.push(format!("--customize-hook={sync_out}"));
    args.push(zfs_module::hold_hook());
    if let Some(repository) = &request.proxmox {
        let dir = out.join("apt");
        repository.write(&dir)?;
        args.extend(proxmox::hooks(&dir));
    }
    let sources = out.join("sources");
    request.write_sources(&sources)?;
    for name in ["debian.sources", "debian-security.sources"] {
        args.push(format!(
            "--customize-hook=copy-in {} /etc/apt/sources.list.d/",
            sources.join(name).display()
        ));
    }
    // The one-line sources.list mmdebstrap wrote gives way to deb822.
    args.push("--customize-hook=rm -f \"$1/etc/apt/sources.list\"".into());
    args.extend([request.suite.to_string(), root.display().to_string()]);
    args.extend(request.archives());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    bootstrap_beside_module(request, &args, apt_cache, modules, out, runner, trash)?;
    let mut facts = facts(&root, runner)?;
    facts.zfs_module = if request.proxmox.is_some() {
        // Proxmox's kernel package carries ZFS: nothing for DKMS to build.
        "in the kernel package".into()
    } else {
        match modules.build_or_load(&root, &facts.kernel, runner)? {
            Outcome::Built => "built".into(),
            Outcome::Loaded => "loaded from cache".into(),
        }
    };
    // An image never ships without a loadable zfs module.
    runner
        .run(
            "chroot",
            &[
                &root.display().to_string(),
                "modinfo",
                "-k",
                &facts.kernel,
                "zfs",
            ],
        )
        .context("the zfs module was not built for the image's kernel")?;
    without_live_boot(&root, runner)?;
    facts.packages = facts_packages(&root, runner)?;
    squash(&root, &out.join("base.squashfs"), runner)?;
    trash.remove_later(&root)?;
    fs::write(
        out.join("facts.json"),
        serde_json::to_string_pretty(&facts)?,
    )?;
    Ok(facts)
}

/// mmdebstrap of the base while the zfs module compiles in a chroot of its
/// own (Debian's kernel only: a Proxmox base brings its own). A module
/// that fails there is built in the base instead, as before. That chroot
/// is handed to `trash` once the module is done.
fn bootstrap_beside_module(
    request: &Request,
    args: &[&str],
    apt_cache: &Path,
    modules: &ModuleCache,
    out: &Path,
    runner: &Runner,
    trash: &Trash,
) -> Result<()> {
    let module_root = out.join("module-root");
    let prebuild = zfs_module::Prebuild {
        suite: request.suite,
        archives: request.archives(),
        apt_cache,
    };
    std::thread::scope(|scope| {
        let module = request
            .proxmox
            .is_none()
            .then(|| scope.spawn(|| modules.prebuild(&prebuild, &module_root, runner)));
        let root = out.join("rootfs");
        let base = without_initrd("mmdebstrap", args, runner)
            .and_then(|_| live_initrd(&root, runner))
            .and_then(|_| apart_from_module(request, modules, &root, out, runner));
        match module.map(|m| m.join()) {
            Some(Ok(Err(err))) => runner.note(&format!(
                "zfs module: its own chroot failed, the base builds it: {err:#}"
            )),
            Some(Err(_)) => runner.note("zfs module: its own chroot panicked, the base builds it"),
            _ => {}
        }
        if module_root.exists() {
            trash.remove_later(&module_root)?;
        }
        base.map(drop)
    })
}

/// The base's work that needs no zfs module, done while it compiles:
/// the build's certificate, the locale, and what the ISO takes from the
/// base (the kernel, the live initrd, GRUB's images, the signed chain).
fn apart_from_module(
    request: &Request,
    modules: &ModuleCache,
    root: &Path,
    out: &Path,
    runner: &Runner,
) -> Result<()> {
    if let Some(key) = modules.key() {
        // Public: the installer lays it on every ESP, `hearth status` names it.
        use hearth_system::secure_boot::{BUILD_CERT, DIR};
        let share = root.join(DIR.trim_start_matches('/'));
        fs::create_dir_all(&share)?;
        fs::copy(key.cert(), share.join(BUILD_CERT))?;
    }
    profile_locale(root, request.locale, runner)?;
    copy_boot_files(root, &zfs_module::one_kernel(root)?, out)?;
    grub_images(root, out, runner)?;
    signed_boot_files(root, out)
}

/// `args` run below the module's compile, which the whole build waits
/// for: the base has minutes to spare beside it.
fn yielding(args: &[&str], runner: &Runner) -> Result<String> {
    runner.run("nice", &[&["-n", "10"][..], args].concat())
}

/// `program` with the kernel's initramfs hook switched off (`INITRD=No`,
/// which the hook honours). Inside mmdebstrap the initramfs was otherwise
/// made three times, by the kernel's hook and two trigger runs, about 9 s
/// each; triggers with no initramfs to update do nothing.
fn without_initrd(program: &str, args: &[&str], runner: &Runner) -> Result<String> {
    yielding(&[&["env", "INITRD=No", program][..], args].concat(), runner)
}

/// The live system's initramfs (live-boot's), made once after the
/// bootstrap, while the zfs module still compiles beside.
fn live_initrd(root: &Path, runner: &Runner) -> Result<()> {
    let kernel = zfs_module::one_kernel(root)?;
    let mut binds = Binds::new(root, runner)?;
    let inside = root.display().to_string();
    let make = ["chroot", &inside, "update-initramfs", "-c", "-k", &kernel];
    let made = yielding(&make, runner).and_then(|_| initrd_links(root, &kernel, runner));
    binds.close()?;
    made.context("making the live system's initramfs")
}

/// /initrd.img and its .old, as the kernel's postinst links them when
/// INITRD is not No; a kernel whose postinst links nothing is left so.
fn initrd_links(root: &Path, kernel: &str, runner: &Runner) -> Result<()> {
    if !root.join("vmlinuz").is_symlink() {
        return Ok(());
    }
    let image = format!("/boot/vmlinuz-{kernel}");
    let args = ["linux-update-symlinks", "install", kernel, &image];
    chroot(runner, root, &args).map(drop)
}

/// The profile's locale, made in the image: an install then only makes
/// one that its answer changed. A C locale needs none.
fn profile_locale(root: &Path, locale: &str, runner: &Runner) -> Result<()> {
    match hearth_system::locale::entry_for(root, locale)? {
        Some(entry) => hearth_system::locale::generate(&entry, root, runner),
        None => Ok(()),
    }
}

/// Every package installed under `root`, with its version.
fn facts_packages(root: &Path, runner: &Runner) -> Result<Vec<(String, String)>> {
    let listing = runner.run(
        "chroot",
        &[
            &root.display().to_string(),
            "dpkg-query",
            "-W",
            "-f",
            "${Package} ${Version}\\n",
        ],
    )?;
    Ok(listing
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(p, v)| (p.to_string(), v.to_string()))
        .collect())
}

pub fn read_facts(layer: &Path) -> Result<Facts> {
    let text =
        fs::read_to_string(layer.join("facts.json")).context("reading the base layer's facts")?;
    Ok(serde_json::from_str(&text)?)
}

fn facts(root: &Path, runner: &Runner) -> Result<Facts> {
    let kernel = zfs_module::one_kernel(root)?;
    let packages = facts_packages(root, runner)?;
    // Debian's module source, or (on a Proxmox base) the tools that match
    // the module in its kernel.
    let zfs = ["zfs-dkms", "zfsutils-linux"]
        .iter()
        .find_map(|name| packages.iter().find(|(p, _)| p == name))
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    Ok(Facts {
        kernel,
        zfs,
        packages,
        zfs_module: String::new(),
    })
}

/// The live initrd (live-boot's) is copied out by now; the system the
/// installer unpacks has no live-boot, and its own initramfs is made here,
/// once, rather than on every machine at install time.
fn without_live_boot(root: &Path, runner: &Runner) -> Result<()> {
    let mut binds = Binds::new(root, runner)?;
    let purged = runner.run(
        "chroot",
        &[
            &root.display().to_string(),
            "dpkg",
            "--purge",
            "live-boot",
            "live-boot-initramfs-tools",
        ],
    );
    binds.close()?;
    purged.context("purging live-boot from the installed system's base")?;
    Ok(())
}

fn copy_boot_files(root: &Path, kernel: &str, out: &Path) -> Result<()> {
    fs::copy(
        root.join(format!("boot/vmlinuz-{kernel}")),
        out.join("vmlinuz"),
    )
    .context("copying the kernel")?;
    fs::copy(
        root.join(format!("boot/initrd.img-{kernel}")),
        out.join("initrd.img"),
    )
    .context("copying the initrd")?;
    Ok(())
}

/// GRUB's BIOS image made by the image's own GRUB, so the ISO boots with
/// the same version the installed system will use. An embedded early config
/// finds the ISO (by its marker file) wherever the image was loaded from.
fn grub_images(root: &Path, out: &Path, runner: &Runner) -> Result<()> {
    let grub = out.join("grub");
    fs::create_dir_all(&grub)?;
    let work = root.join("tmp/hearth-grub");
    fs::create_dir_all(&work)?;
    fs::write(work.join("early.cfg"), crate::boot::early_config())?;
    let rootdir = root.display().to_string();
    let modules: Vec<&str> = GRUB_MODULES.split_whitespace().collect();
    // UEFI boots Debian's signed GRUB (see signed_boot_files).
    let mut args = vec![
        rootdir.as_str(),
        "grub-mkimage",
        "-O",
        "i386-pc-eltorito",
        "-p",
        "/boot/grub",
        "-c",
        "/tmp/hearth-grub/early.cfg",
        "-o",
        "/tmp/hearth-grub/eltorito.img",
    ];
    args.extend(&modules);
    args.push("biosdisk");
    runner.run("chroot", &args)?;
    fs::copy(work.join("eltorito.img"), grub.join("eltorito.img"))?;
    for platform in ["i386-pc", "x86_64-efi"] {
        copy_dir(
            &root.join("usr/lib/grub").join(platform),
            &grub.join(platform),
        )?;
    }
    fs::copy(
        root.join("usr/lib/grub/i386-pc/boot_hybrid.img"),
        grub.join("boot_hybrid.img"),
    )?;
    fs::remove_dir_all(&work)?;
    Ok(())
}

/// Where the base layer keeps the boot chain Debian signed, for the ISO.
pub const SIGNED_DIR: &str = "signed";

/// The boot chain Debian signed, from the image's own packages: shim,
/// MokManager, the fallback loader and GRUB for CDs; and the build's
/// certificate. The ISO and its EFI image are made from these.
fn signed_boot_files(root: &Path, out: &Path) -> Result<()> {
    let signed = out.join(SIGNED_DIR);
    fs::create_dir_all(&signed)?;
    for (from, to) in SIGNED_FILES {
        fs::copy(root.join(from), signed.join(to))
            .with_context(|| format!("copying /{from} (Secure Boot's boot chain)"))?;
    }
    use hearth_system::secure_boot::{BUILD_CERT, DIR};
    let cert = root.join(DIR.trim_start_matches('/')).join(BUILD_CERT);
    if cert.is_file() {
        fs::copy(&cert, signed.join(BUILD_CERT))?;
    }
    Ok(())
}

/// (in the image, in the layer's signed folder).
const SIGNED_FILES: [(&str, &str); 4] = [
    ("usr/lib/shim/shimx64.efi.signed", "shimx64.efi"),
    ("usr/lib/shim/mmx64.efi.signed", "mmx64.efi"),
    ("usr/lib/shim/fbx64.efi.signed", "fbx64.efi"),
    (
        "usr/lib/grub/x86_64-efi-signed/gcdx64.efi.signed",
        "grubx64.efi",
    ),
];

/// zstd's level for the layers. mksquashfs's default (15) took 138 s for
/// homelab's base on two cores against 22 s at 9, for 5% more bytes
/// (689 MB against 725 MB); unsquashfs is as fast on either.
const ZSTD_LEVEL: &str = "9";

pub fn squash(tree: &Path, out: &Path, runner: &Runner) -> Result<()> {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .to_string();
    runner.run(
        "mksquashfs",
        &[
            &tree.display().to_string(),
            &out.display().to_string(),
            "-comp",
            "zstd",
            "-Xcompression-level",
            ZSTD_LEVEL,
            "-processors",
            &cpus,
            "-noappend",
            "-no-progress",
            "-wildcards",
            "-e",
            "tmp/*",
            "var/cache/apt/archives/*.deb",
        ],
    )?;
    Ok(())
}

pub use hearth_system::files::copy_tree as copy_dir;
