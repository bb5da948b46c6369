//! `image-builder build`: profile -> cached layers -> hybrid ISO, SHA256SUMS
//! and a manifest.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use hearth_schema::profile::{Base, Profile};
use hearth_system::medium;
use hearth_system::runner::Runner;
use hearth_system::steps::Steps;
use serde_json::json;

use crate::cache::{hash_file, Cache, Layer};
use crate::guest_image;
use crate::iso::Graft;
use crate::live::merged_profile;
use crate::manifest::{write_sums, Manifest};
use crate::signing::BuildKey;
use crate::trash::Trash;
use crate::zfs_module::ModuleCache;
use crate::{boot, host, iso, live, proxmox, rootfs};

/// Debian's security archive, the default beside the default mirror.
pub const DEFAULT_SECURITY_MIRROR: &str = hearth_services::updates::DEFAULT_SECURITY;

#[derive(Clone)]
pub struct Options {
    pub profile: PathBuf,
    pub answer: Option<PathBuf>,
    pub out: PathBuf,
    pub cache: PathBuf,
    pub mirror: String,
    /// Debian's security archive, built from beside the mirror.
    pub security_mirror: String,
    /// A prebuilt installer binary; default: `cargo build --release` in the workspace.
    pub installer: Option<PathBuf>,
    pub workspace: PathBuf,
    /// Also write the netboot folder, whose iPXE script names this URL
    /// for it by default.
    pub netboot: Option<String>,
}

pub struct Built {
    pub iso: PathBuf,
    pub manifest: PathBuf,
    /// The netboot folder, when asked for.
    pub netboot: Option<PathBuf>,
}

/// What every step of a build reads.
struct Build<'a> {
    options: &'a Options,
    runner: Runner,
    cache: Cache,
    profile: Profile,
    tools: BTreeMap<String, String>,
    /// Trees removed while the next layers build.
    trash: Trash,
}

/// The layers an ISO is made of.
struct Layers {
    base: Layer,
    hearth: Layer,
    efi: Layer,
    guest: Option<Layer>,
}

pub fn build(options: &Options) -> Result<Built> {
    fs::create_dir_all(&options.out)?;
    let runner = Runner::new(Some(&options.out.join("build.log")), false)?;
    host::ensure(host::BUILD_TOOLS, &runner)?;
    let profile = hearth_services::load_profile(&options.profile)
        .map_err(|p| anyhow!("{p}"))?
        .value;
    if let Some(answer) = &options.answer {
        hearth_schema::load::answer(answer, &profile).map_err(|p| anyhow!("{p}"))?;
    }
    if let Some(url) = &options.netboot {
        crate::netboot::check_url(url)?;
    }
    let cache = Cache::new(options.cache.clone());
    let ctx = Build {
        options,
        tools: tool_versions(&runner),
        trash: Trash::new(cache.layers_dir()),
        cache,
        runner,
        profile,
    };
    let mut steps = Steps::new(&ctx.runner);
    let merged = merged_profile(&options.profile)?;
    let installer = steps.run_cached("installer (release build)", || {
        Ok((installer_binary(options, &ctx.runner)?, false))
    })?;
    let base = base_layer(&ctx, &mut steps)?;
    let facts = rootfs::read_facts(&base.path)?;
    let sources = live::Sources {
        workspace: options.workspace.clone(),
        profile: ctx.profile.name.clone(),
        profile_toml: merged.clone(),
        carried: facts.packages.iter().map(|(p, _)| p.clone()).collect(),
        masked: live::to_mask(&live::enabled_in(
            &base.path.join("base.squashfs"),
            &ctx.runner,
        )?),
        installer,
    };
    let layers = Layers {
        hearth: hearth_layer(&ctx, &mut steps, &sources)?,
        guest: guest_layer(&ctx, &mut steps)?,
        efi: efi_layer(&ctx, &mut steps, &base)?,
        base,
    };
    let work = options.out.join(".work");
    medium_files(&ctx, &layers, &merged, &work)?;
    let grafts = grafts(&ctx, &layers, &work);
    let iso = write_iso(&ctx, &mut steps, &layers, &grafts)?;
    let netboot = match &options.netboot {
        Some(url) => Some(write_netboot(&ctx, &mut steps, &grafts, url)?),
        None => None,
    };
    fs::remove_dir_all(&work).ok();
    let manifest = write_manifest(&ctx, &steps, &layers, &facts, &iso)?;
    write_sums(&options.out, &[&iso, &manifest])?;
    ctx.trash.wait()?;
    Ok(Built {
        iso,
        manifest,
        netboot,
    })
}

fn mmdebstrap_version(ctx: &Build) -> String {
    ctx.tools.get("mmdebstrap").cloned().unwrap_or_default()
}

/// mmdebstrap, the profile's packages, zfs by DKMS, GRUB, one squashfs.
fn base_layer(ctx: &Build, steps: &mut Steps) -> Result<Layer> {
    let profile = &ctx.profile;
    let mut packages = hearth_services::packages(profile);
    packages.extend(rootfs::LIVE_PACKAGES.iter().map(|p| p.to_string()));
    packages.sort();
    packages.dedup();
    let proxmox = match (&profile.base, &profile.proxmox) {
        (Base::Proxmox, Some(repo)) => Some(proxmox::prepare(
            repo,
            &profile.suite,
            &ctx.cache.downloads_dir(),
        )?),
        _ => None,
    };
    let (cache, runner) = (&ctx.cache, &ctx.runner);
    // Proxmox's kernel carries ZFS, signed by Proxmox: nothing to sign here.
    let key = match proxmox {
        None => Some(BuildKey::ensure(&cache.signing_dir(), runner)?),
        Some(_) => None,
    };
    let request = rootfs::Request {
        suite: &profile.suite,
        mirror: &ctx.options.mirror,
        security_mirror: &ctx.options.security_mirror,
        packages,
        locale: &profile.system.locale,
        proxmox,
        signing: key.as_ref().map(BuildKey::fingerprint).transpose()?,
    };
    let inputs = request.inputs(&mmdebstrap_version(ctx));
    steps.run_cached(
        "base: mmdebstrap, packages, zfs (DKMS), GRUB, squashfs",
        || {
            let hit = cache.lookup("base", &inputs).is_some();
            if !hit {
                runner.note(&format!("base layer: {}", cache.why_miss("base", &inputs)));
            }
            let layer = cache.layer("base", &inputs, |dir| {
                let modules = match &key {
                    Some(key) => ModuleCache::signed(cache.modules_dir(), key.clone())?,
                    None => ModuleCache::new(cache.modules_dir()),
                };
                rootfs::build(
                    &request,
                    &cache.apt_dir(),
                    &modules,
                    dir,
                    runner,
                    &ctx.trash,
                )
                .map(|_| ())
            })?;
            Ok((layer, hit))
        },
    )
}

/// Overlays, the installer, the merged profiles and apps, what the base carries.
fn hearth_layer(ctx: &Build, steps: &mut Steps, sources: &live::Sources) -> Result<Layer> {
    let inputs = sources.inputs()?;
    steps.run_cached("hearth layer: overlays, installer, profiles", || {
        let layer = ctx.cache.layer("hearth", &inputs, |dir| {
            let tree = dir.join("tree");
            live::assemble(sources, &tree)?;
            rootfs::squash(&tree, &dir.join("hearth.squashfs"), &ctx.runner)?;
            Ok(fs::remove_dir_all(&tree)?)
        })?;
        let hit = layer.hit;
        Ok((layer, hit))
    })
}

/// The Debian image for containers and apps, when the profile has any.
fn guest_layer(ctx: &Build, steps: &mut Steps) -> Result<Option<Layer>> {
    let profile = &ctx.profile;
    if !hearth_services::guests::image_needed(profile) {
        return Ok(None);
    }
    let mirror = &ctx.options.mirror;
    let inputs = guest_image::inputs(&profile.suite, mirror, &mmdebstrap_version(ctx));
    let cache = &ctx.cache;
    let layer = steps.run_cached(
        "guest image: Debian for containers and apps (mmdebstrap)",
        || {
            let hit = cache.lookup("guest", &inputs).is_some();
            let layer = cache.layer("guest", &inputs, |dir| {
                guest_image::build(&profile.suite, mirror, &cache.apt_dir(), dir, &ctx.runner)
            })?;
            Ok((layer, hit))
        },
    )?;
    Ok(Some(layer))
}

fn efi_layer(ctx: &Build, steps: &mut Steps, base: &Layer) -> Result<Layer> {
    let signed = base.path.join(rootfs::SIGNED_DIR);
    let mut hashes = BTreeMap::new();
    for entry in fs::read_dir(&signed).context("the base layer's signed boot files")? {
        let path = entry?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().to_string());
        hashes.insert(name.unwrap_or_default(), hash_file(&path)?);
    }
    let inputs = json!({ "signed": hashes, "stub": boot::signed_grub_cfg(), "recipe": 2 });
    steps.run_cached("EFI boot image (fatfs)", || {
        let layer = ctx.cache.layer("efi", &inputs, |dir| {
            boot::efi_image(&signed, dir, &dir.join("efi.img"))
        })?;
        let hit = layer.hit;
        Ok((layer, hit))
    })
}

fn iso_name(profile: &Profile, ext: &str) -> String {
    format!(
        "hearth-{}-{}.{ext}",
        profile.name,
        env!("CARGO_PKG_VERSION")
    )
}

/// Everything the ISO holds, where the medium's layout puts it.
fn grafts(ctx: &Build, layers: &Layers, work: &Path) -> Vec<Graft> {
    let (base, hearth) = (&layers.base.path, &layers.hearth.path);
    let mut grafts = vec![
        Graft::new(boot::MARKER.trim_start_matches('/'), work.join("marker")),
        Graft::new("boot/grub/grub.cfg", work.join("grub.cfg")),
        Graft::new("boot/grub/i386-pc", base.join("grub/i386-pc")),
        Graft::new("boot/grub/x86_64-efi", base.join("grub/x86_64-efi")),
        Graft::new(
            "boot/grub/i386-pc/eltorito.img",
            base.join("grub/eltorito.img"),
        ),
        Graft::new("efi.img", layers.efi.path.join("efi.img")),
        Graft::new(".disk/info", work.join("disk-info")),
        Graft::new(medium::KERNEL, base.join("vmlinuz")),
        Graft::new(medium::INITRD, work.join("initrd.img")),
        Graft::new(medium::BASE_SQUASHFS, base.join("base.squashfs")),
        Graft::new(medium::HEARTH_SQUASHFS, hearth.join("hearth.squashfs")),
        Graft::new(medium::PROFILE, work.join("profile.toml")),
    ];
    let signed = base.join(rootfs::SIGNED_DIR);
    for (to, from) in boot::efi_files(&signed, &work.join("signed-grub.cfg")) {
        grafts.push(Graft::new(to, from));
    }
    if let Some(answer) = &ctx.options.answer {
        grafts.push(Graft::new(medium::ANSWER, answer.clone()));
    }
    if let Some(layer) = &layers.guest {
        use hearth_services::guests::{METADATA, ON_ISO, ROOTFS};
        for file in [METADATA, ROOTFS] {
            grafts.push(Graft::new(
                &format!("{ON_ISO}/{file}"),
                layer.path.join(file),
            ));
        }
    }
    grafts
}

/// The medium's tree as a folder beside the ISO, for netboot.
fn write_netboot(ctx: &Build, steps: &mut Steps, grafts: &[Graft], url: &str) -> Result<PathBuf> {
    let dir = crate::netboot::folder(&ctx.options.out, &ctx.profile.name);
    steps.run_cached("netboot folder (live/, hearth/, SHA256SUMS, iPXE)", || {
        crate::netboot::write(&dir, grafts, &ctx.profile.name, url)?;
        Ok(((), false))
    })?;
    Ok(dir)
}

/// The medium's small files, made for this build in `work`: GRUB's
/// menu, the merged profile, the marker, the live initrd.
fn medium_files(ctx: &Build, layers: &Layers, merged: &str, work: &Path) -> Result<()> {
    let name = &ctx.profile.name;
    fs::create_dir_all(work)?;
    fs::write(work.join("grub.cfg"), boot::grub_cfg(name, name, &[]))?;
    fs::write(work.join("profile.toml"), merged)?;
    let marker = format!("hearth {} {name}\n", env!("CARGO_PKG_VERSION"));
    fs::write(work.join("marker"), marker)?;
    fs::write(work.join("disk-info"), boot::disk_info(name))?;
    fs::write(work.join("signed-grub.cfg"), boot::signed_grub_cfg())?;
    crate::netboot::live_initrd(
        &layers.base.path.join("initrd.img"),
        &work.join("initrd.img"),
    )
}

fn write_iso(ctx: &Build, steps: &mut Steps, layers: &Layers, grafts: &[Graft]) -> Result<PathBuf> {
    let profile = &ctx.profile;
    let iso = ctx.options.out.join(iso_name(profile, "iso"));
    let volume = format!("HEARTH_{}", profile.name.to_uppercase().replace('-', "_"));
    let hybrid = layers.base.path.join("grub/boot_hybrid.img");
    steps.run_cached("ISO (xorriso)", || {
        let _ = fs::remove_file(&iso);
        let label = &volume[..volume.len().min(32)];
        iso::write(&iso, label, &hybrid, grafts, &ctx.runner)?;
        Ok(((), false))
    })?;
    Ok(iso)
}

fn write_manifest(
    ctx: &Build,
    steps: &Steps,
    layers: &Layers,
    facts: &rootfs::Facts,
    iso: &Path,
) -> Result<PathBuf> {
    let profile = &ctx.profile;
    let mut inputs = BTreeMap::new();
    inputs.insert("layer:base".into(), layers.base.key.clone());
    inputs.insert("layer:hearth".into(), layers.hearth.key.clone());
    inputs.insert("layer:efi".into(), layers.efi.key.clone());
    if let Some(layer) = &layers.guest {
        inputs.insert("layer:guest".into(), layer.key.clone());
    }
    inputs.insert("profile".into(), hash_file(&ctx.options.profile)?);
    if let Some(answer) = &ctx.options.answer {
        inputs.insert("answer".into(), hash_file(answer)?);
    }
    let manifest = Manifest {
        hearth: env!("CARGO_PKG_VERSION").into(),
        profile: profile.name.clone(),
        iso: iso_name(profile, "iso"),
        iso_sha256: hash_file(iso)?,
        iso_bytes: fs::metadata(iso)?.len(),
        suite: profile.suite.clone(),
        archives: rootfs::archives(
            &profile.suite,
            &ctx.options.mirror,
            &ctx.options.security_mirror,
        ),
        kernel: facts.kernel.clone(),
        zfs: facts.zfs.clone(),
        packages: facts.packages.iter().cloned().collect(),
        inputs,
        tools: ctx.tools.clone(),
        steps: steps.times.clone(),
    };
    let path = ctx.options.out.join(iso_name(profile, "manifest.json"));
    fs::write(&path, serde_json::to_string_pretty(&manifest)? + "\n")?;
    Ok(path)
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
