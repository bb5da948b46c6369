//! `image-builder build`: profile -> cached layers -> hybrid ISO, SHA256SUMS
//! and a manifest.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use hearth_system::medium;
use hearth_system::runner::Runner;
use hearth_system::steps::Steps;
use serde_json::json;

use crate::cache::{hash_file, Cache};
use crate::guest_image;
use crate::iso::Graft;
use crate::manifest::{write_sums, Manifest};
use crate::zfs_module::ModuleCache;
use crate::{boot, host, iso, live, proxmox, rootfs};

pub struct Options {
    pub profile: PathBuf,
    pub answer: Option<PathBuf>,
    pub out: PathBuf,
    pub cache: PathBuf,
    pub mirror: String,
    /// A prebuilt installer binary; default: `cargo build --release` in the workspace.
    pub installer: Option<PathBuf>,
    pub workspace: PathBuf,
}

pub struct Built {
    pub iso: PathBuf,
    pub manifest: PathBuf,
}

pub fn build(options: &Options) -> Result<Built> {
    fs::create_dir_all(&options.out)?;
    let runner = Runner::new(Some(&options.out.join("build.log")), false)?;
    let mut steps = Steps::new(&runner);
    host::ensure(host::BUILD_TOOLS, &runner)?;
    let profile = hearth_services::load_profile(&options.profile)
        .map_err(|p| anyhow!("{p}"))?
        .value;
    let merged = merged_profile(&options.profile)?;
    if let Some(answer) = &options.answer {
        hearth_schema::load::answer(answer, &profile).map_err(|p| anyhow!("{p}"))?;
    }
    let cache = Cache::new(options.cache.clone());

    let installer = steps.run_cached("installer (release build)", || {
        Ok((installer_binary(options, &runner)?, false))
    })?;

    let mut packages = hearth_services::packages(&profile);
    packages.extend(rootfs::LIVE_PACKAGES.iter().map(|p| p.to_string()));
    packages.sort();
    packages.dedup();
    let proxmox = match (&profile.base, &profile.proxmox) {
        (hearth_schema::profile::Base::Proxmox, Some(repo)) => Some(proxmox::prepare(
            repo,
            &profile.suite,
            &cache.downloads_dir(),
        )?),
        _ => None,
    };
    let request = rootfs::Request {
        suite: &profile.suite,
        mirror: &options.mirror,
        packages,
        proxmox,
    };
    let tools = tool_versions(&runner);
    let base_inputs = request.inputs(tools.get("mmdebstrap").map_or("", String::as_str));
    let base = steps.run_cached(
        "base: mmdebstrap, packages, zfs (DKMS), GRUB, squashfs",
        || {
            let hit = cache.lookup("base", &base_inputs).is_some();
            if !hit {
                runner.note(&format!(
                    "base layer: {}",
                    cache.why_miss("base", &base_inputs)
                ));
            }
            let layer = cache.layer("base", &base_inputs, |dir| {
                let modules = ModuleCache::new(cache.modules_dir());
                rootfs::build(&request, &cache.apt_dir(), &modules, dir, &runner).map(|_| ())
            })?;
            Ok((layer, hit))
        },
    )?;
    let facts = rootfs::read_facts(&base.path)?;

    let sources = live::Sources {
        workspace: options.workspace.clone(),
        profile: profile.name.clone(),
        profile_toml: merged.clone(),
        carried: facts.packages.iter().map(|(p, _)| p.clone()).collect(),
        installer,
    };
    let hearth_inputs = sources.inputs()?;
    let hearth_layer = steps.run_cached("hearth layer: overlays, installer, profiles", || {
        let layer = cache.layer("hearth", &hearth_inputs, |dir| {
            let tree = dir.join("tree");
            live::assemble(&sources, &tree)?;
            rootfs::squash(&tree, &dir.join("hearth.squashfs"), &runner)?;
            Ok(fs::remove_dir_all(&tree)?)
        })?;
        let hit = layer.hit;
        Ok((layer, hit))
    })?;

    let guest_image = if hearth_services::guests::image_needed(&profile) {
        let inputs = guest_image::inputs(
            &profile.suite,
            &options.mirror,
            tools.get("mmdebstrap").map_or("", String::as_str),
        );
        Some(steps.run_cached(
            "guest image: Debian for containers and apps (mmdebstrap)",
            || {
                let hit = cache.lookup("guest", &inputs).is_some();
                let layer = cache.layer("guest", &inputs, |dir| {
                    guest_image::build(
                        &profile.suite,
                        &options.mirror,
                        &cache.apt_dir(),
                        dir,
                        &runner,
                    )
                })?;
                Ok((layer, hit))
            },
        )?)
    } else {
        None
    };

    let efi_inputs =
        json!({ "grub": hash_file(&base.path.join("grub/BOOTX64.EFI"))?, "recipe": 1 });
    let efi = steps.run_cached("EFI boot image (fatfs)", || {
        let layer = cache.layer("efi", &efi_inputs, |dir| {
            boot::efi_image(
                &base.path.join("grub/BOOTX64.EFI"),
                dir,
                &dir.join("efi.img"),
            )
        })?;
        let hit = layer.hit;
        Ok((layer, hit))
    })?;

    let name = format!("hearth-{}-{}.iso", profile.name, env!("CARGO_PKG_VERSION"));
    let iso_path = options.out.join(&name);
    let work = options.out.join(".work");
    fs::create_dir_all(&work)?;
    fs::write(
        work.join("grub.cfg"),
        boot::grub_cfg(&profile.name, &profile.name),
    )?;
    fs::write(work.join("profile.toml"), &merged)?;
    fs::write(
        work.join("marker"),
        format!("hearth {} {}\n", env!("CARGO_PKG_VERSION"), profile.name),
    )?;
    let mut grafts = vec![
        Graft::new(boot::MARKER.trim_start_matches('/'), work.join("marker")),
        Graft::new("boot/grub/grub.cfg", work.join("grub.cfg")),
        Graft::new("boot/grub/i386-pc", base.path.join("grub/i386-pc")),
        Graft::new("boot/grub/x86_64-efi", base.path.join("grub/x86_64-efi")),
        Graft::new(
            "boot/grub/i386-pc/eltorito.img",
            base.path.join("grub/eltorito.img"),
        ),
        Graft::new("EFI/BOOT/BOOTX64.EFI", base.path.join("grub/BOOTX64.EFI")),
        Graft::new("efi.img", efi.path.join("efi.img")),
        Graft::new(medium::KERNEL, base.path.join("vmlinuz")),
        Graft::new(medium::INITRD, base.path.join("initrd.img")),
        Graft::new(medium::BASE_SQUASHFS, base.path.join("base.squashfs")),
        Graft::new(
            medium::HEARTH_SQUASHFS,
            hearth_layer.path.join("hearth.squashfs"),
        ),
        Graft::new(medium::PROFILE, work.join("profile.toml")),
    ];
    if let Some(answer) = &options.answer {
        grafts.push(Graft::new(medium::ANSWER, answer.clone()));
    }
    if let Some(layer) = &guest_image {
        use hearth_services::guests::{METADATA, ON_ISO, ROOTFS};
        for file in [METADATA, ROOTFS] {
            grafts.push(Graft::new(
                &format!("{ON_ISO}/{file}"),
                layer.path.join(file),
            ));
        }
    }
    let volume = format!("HEARTH_{}", profile.name.to_uppercase().replace('-', "_"));
    steps.run_cached("ISO (xorriso)", || {
        let _ = fs::remove_file(&iso_path);
        iso::write(
            &iso_path,
            &volume[..volume.len().min(32)],
            &base.path.join("grub/boot_hybrid.img"),
            &grafts,
            &runner,
        )?;
        Ok(((), false))
    })?;

    let mut inputs = BTreeMap::new();
    inputs.insert("layer:base".into(), base.key.clone());
    inputs.insert("layer:hearth".into(), hearth_layer.key.clone());
    inputs.insert("layer:efi".into(), efi.key.clone());
    if let Some(layer) = &guest_image {
        inputs.insert("layer:guest".into(), layer.key.clone());
    }
    inputs.insert("profile".into(), hash_file(&options.profile)?);
    if let Some(answer) = &options.answer {
        inputs.insert("answer".into(), hash_file(answer)?);
    }
    let manifest = Manifest {
        hearth: env!("CARGO_PKG_VERSION").into(),
        profile: profile.name.clone(),
        iso: name.clone(),
        iso_sha256: hash_file(&iso_path)?,
        iso_bytes: fs::metadata(&iso_path)?.len(),
        suite: profile.suite.clone(),
        kernel: facts.kernel.clone(),
        zfs: facts.zfs.clone(),
        packages: facts.packages.iter().cloned().collect(),
        inputs,
        tools,
        steps: steps.times.clone(),
    };
    let manifest_path = options.out.join(format!(
        "hearth-{}-{}.manifest.json",
        profile.name,
        env!("CARGO_PKG_VERSION")
    ));
    fs::write(
        &manifest_path,
        serde_json::to_string_pretty(&manifest)? + "\n",
    )?;
    write_sums(&options.out, &[&iso_path, &manifest_path])?;
    fs::remove_dir_all(&work).ok();
    Ok(Built {
        iso: iso_path,
        manifest: manifest_path,
    })
}

/// The profile with `extends` resolved, as the medium carries it.
pub fn merged_profile(path: &Path) -> Result<String> {
    let table = hearth_schema::load::merged(path).map_err(|p| anyhow!("{p}"))?;
    Ok(toml::to_string(&table)?)
}

fn installer_binary(options: &Options, runner: &Runner) -> Result<PathBuf> {
    if let Some(given) = &options.installer {
        return Ok(given.clone());
    }
    let manifest = options.workspace.join("Cargo.toml").display().to_string();
    runner.run(
        "cargo",
        &[
            "build",
            "--release",
            "--manifest-path",
            &manifest,
            "-p",
            "installer",
            "--bin",
            "hearth",
        ],
    )?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| options.workspace.join("target"));
    let binary = target.join("release/hearth");
    binary
        .is_file()
        .then_some(binary.clone())
        .with_context(|| format!("{} was not built", binary.display()))
}

fn tool_versions(runner: &Runner) -> BTreeMap<String, String> {
    let mut tools = BTreeMap::new();
    for (tool, args) in [
        ("mmdebstrap", &["--version"][..]),
        ("xorriso", &["-version"][..]),
        ("mksquashfs", &["-version"][..]),
        ("cargo", &["--version"][..]),
    ] {
        if let Ok((_, out)) = runner.query(tool, args) {
            let first = out.lines().next().unwrap_or_default().trim().to_string();
            tools.insert(tool.to_string(), first);
        }
    }
    tools
}

/// The workspace this builder was compiled in (holds profiles/ and overlays/).
pub fn default_workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}
