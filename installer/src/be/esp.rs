//! One ESP brought in step: each environment's kernel and initrd in its
//! own folder, the menu listing them, and the boot state; sizes checked
//! before the first copy, the oldest environments left off when it is full.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use super::menu::{self, BootState, MenuEntry};
use super::sources::Mounted;
use super::space::{self, Wanted};
use crate::runner::Runner;

/// An environment's boot files, where they are now.
#[derive(Debug, Clone)]
pub struct EnvBoot {
    pub name: String,
    pub created: u64,
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    pub cmdline: String,
    /// Running, default, fallback or just made: never left off.
    pub protected: bool,
}

/// What one ESP holds after a sync.
#[derive(Debug)]
pub struct Synced {
    pub copied: Vec<String>,
    pub removed: Vec<String>,
    pub listed: Vec<String>,
}

/// `envs` newest first. Nothing is written when even the protected
/// environments do not fit.
pub fn sync_dir(
    dir: &Path,
    uuid: &str,
    envs: &[EnvBoot],
    state: &BootState,
    runner: &Runner,
) -> Result<Synced> {
    let on_esp = folders(dir)?;
    let wanted: Vec<Wanted> = envs
        .iter()
        .map(|env| wanted(dir, env))
        .collect::<Result<_>>()?;
    let choice = space::choose(&wanted, &on_esp, free_bytes(dir, runner)?)
        .with_context(|| format!("ESP {uuid} is too small"))?;
    for name in &choice.remove {
        fs::remove_dir_all(dir.join(menu::env_dir(name)))?;
    }
    for env in envs.iter().filter(|e| choice.copy.contains(&e.name)) {
        let folder = dir.join(menu::env_dir(&env.name));
        fs::create_dir_all(&folder)?;
        replace(&env.kernel, &folder.join("vmlinuz"))?;
        replace(&env.initrd, &folder.join("initrd.img"))?;
    }
    let entries: Vec<MenuEntry> = envs
        .iter()
        .filter(|e| choice.listed.contains(&e.name))
        .map(|e| MenuEntry {
            name: e.name.clone(),
            made: super::clock::minute(e.created),
            cmdline: e.cmdline.clone(),
        })
        .collect();
    fs::create_dir_all(dir.join("grub"))?;
    write_new(
        &dir.join(menu::MENU),
        menu::grub_cfg(uuid, &entries).as_bytes(),
    )?;
    write_state(dir, state)?;
    // The single-environment layout of earlier installs.
    for old in ["vmlinuz", "initrd.img"] {
        let _ = fs::remove_file(dir.join(old));
    }
    Ok(Synced {
        copied: choice.copy,
        removed: choice.remove,
        listed: choice.listed,
    })
}

pub fn read_state(dir: &Path) -> BootState {
    fs::read_to_string(dir.join(menu::ENV_BLOCK))
        .map(|text| BootState::decode(&text))
        .unwrap_or_default()
}

pub fn write_state(dir: &Path, state: &BootState) -> Result<()> {
    write_new(&dir.join(menu::ENV_BLOCK), &state.encode())
}

fn wanted(dir: &Path, env: &EnvBoot) -> Result<Wanted> {
    let folder = dir.join(menu::env_dir(&env.name));
    let current = same(&env.kernel, &folder.join("vmlinuz"))?
        && same(&env.initrd, &folder.join("initrd.img"))?;
    Ok(Wanted {
        name: env.name.clone(),
        bytes: len(&env.kernel)? + len(&env.initrd)?,
        current,
        protected: env.protected,
    })
}

/// The environment folders on the ESP, with the bytes each holds.
fn folders(dir: &Path) -> Result<Vec<(String, u64)>> {
    let root = dir.join("env");
    let Ok(entries) = fs::read_dir(&root) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for entry in entries.flatten().filter(|e| e.path().is_dir()) {
        let bytes = fs::read_dir(entry.path())?
            .flatten()
            .filter_map(|f| f.metadata().ok())
            .map(|m| m.len())
            .sum();
        out.push((entry.file_name().to_string_lossy().to_string(), bytes));
    }
    Ok(out)
}

fn len(path: &Path) -> Result<u64> {
    Ok(fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .len())
}

/// Same size and same SHA-256.
fn same(source: &Path, copy: &Path) -> Result<bool> {
    if !copy.exists() || len(source)? != len(copy)? {
        return Ok(false);
    }
    Ok(sha256(source)? == sha256(copy)?)
}

pub fn sha256(path: &Path) -> Result<String> {
    let mut file = fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(format!("{:x}", hasher.finalize()))
}

/// Copied beside, then renamed: a power cut leaves the old file or the new.
fn replace(source: &Path, dest: &Path) -> Result<()> {
    let new = dest.with_extension("new");
    fs::copy(source, &new).with_context(|| format!("copying {}", source.display()))?;
    fs::rename(&new, dest)?;
    Ok(())
}

fn write_new(dest: &Path, bytes: &[u8]) -> Result<()> {
    let new = dest.with_extension("new");
    fs::write(&new, bytes)?;
    fs::rename(&new, dest)?;
    Ok(())
}

/// `stat -f`: available blocks times the block size.
fn free_bytes(dir: &Path, runner: &Runner) -> Result<u64> {
    let (_, out) = runner.query("stat", &["-f", "-c", "%a %S", &dir.display().to_string()])?;
    let mut fields = out.split_whitespace().map(|f| f.parse::<u64>().ok());
    match (fields.next().flatten(), fields.next().flatten()) {
        (Some(blocks), Some(size)) => Ok(blocks * size),
        _ => anyhow::bail!("free space of {}: stat said {out:?}", dir.display()),
    }
}

/// An ESP mounted for the length of a sync.
pub struct MountedEsp<'a> {
    pub uuid: String,
    pub dir: PathBuf,
    _mount: Mounted<'a>,
}

impl<'a> MountedEsp<'a> {
    pub fn mount(uuid: &str, runner: &'a Runner) -> Result<MountedEsp<'a>> {
        let dir = Path::new("/run/hearth/esp").join(uuid);
        let device = format!("/dev/disk/by-uuid/{uuid}");
        let mount = Mounted::with(&["-t", "vfat", &device], &dir, runner)?;
        Ok(MountedEsp {
            uuid: uuid.to_string(),
            dir,
            _mount: mount,
        })
    }
}

#[cfg(test)]
mod tests;
