//! The Hearth layer stacked over the base: overlays, the installer binary,
//! the profiles and the units that start the installer. Small, so a change
//! here rebuilds seconds of work, never the base.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use serde_json::{json, Value};

use hearth_system::medium::{self, Share};

use crate::cache::{hash_file, hash_tree};
use crate::rootfs::copy_dir;

pub struct Sources {
    pub workspace: PathBuf,
    /// The built profile's name.
    pub profile: String,
    /// The built profile, `extends` resolved.
    pub profile_toml: String,
    /// Every package the base layer holds.
    pub carried: Vec<String>,
    /// Units the base enables that the live system masks (see [`to_mask`]).
    pub masked: Vec<String>,
    pub installer: PathBuf,
}

impl Sources {
    fn overlays(&self) -> Vec<PathBuf> {
        let base = self.workspace.join("overlays");
        [base.join("common"), base.join(&self.profile)]
            .into_iter()
            .filter(|d| d.is_dir())
            .collect()
    }

    pub fn inputs(&self) -> Result<Value> {
        let mut overlays = serde_json::Map::new();
        for dir in self.overlays() {
            overlays.insert(dir.display().to_string(), json!(hash_tree(&dir)?));
        }
        Ok(json!({
            "overlays": overlays,
            "profiles": hash_tree(&self.workspace.join("profiles"))?,
            "apps": hash_tree(&self.workspace.join("apps"))?,
            "installer": hash_file(&self.installer)?,
            "profile": self.profile,
            "profile-toml": self.profile_toml,
            "carried": self.carried,
            "masked": self.masked,
        }))
    }
}

/// Lays the Hearth layer out in `tree`.
pub fn assemble(sources: &Sources, tree: &Path) -> Result<()> {
    for dir in sources.overlays() {
        copy_dir(&dir, tree).with_context(|| format!("laying in {}", dir.display()))?;
    }
    let bin = tree.join("usr/bin");
    fs::create_dir_all(&bin)?;
    fs::copy(&sources.installer, bin.join("hearth")).context("copying the installer")?;
    fs::set_permissions(bin.join("hearth"), fs::Permissions::from_mode(0o755))?;
    let share = Share::at(&tree.join(medium::SHARE.trim_start_matches('/')));
    write_profiles(sources, &share)?;
    copy_dir(&sources.workspace.join("apps"), &share.apps())?;
    fs::write(share.default_profile(), format!("{}\n", sources.profile))?;
    fs::write(share.packages(), sources.carried.join("\n") + "\n")?;
    mask(tree, &sources.masked)
}

/// Units the live system needs: the console, the installer, udev, the
/// network, the zfs module. Everything else the base enables (Docker,
/// Incus, Samba, NFS, sshd with the image's keys, timers) waits for the
/// installed system, where the plan enables what the profile asks.
const LIVE_NEEDS: [&str; 8] = [
    "systemd-",
    "getty@",
    "serial-getty@",
    "console-setup.",
    "keyboard-setup.",
    "zfs-load-module.",
    "hearth-",
    "dbus.",
];

/// Of the units enabled in the base, those to mask in the live system.
pub fn to_mask(enabled: &[String]) -> Vec<String> {
    let mut out: Vec<String> = enabled
        .iter()
        .filter(|u| {
            [".service", ".socket", ".timer", ".path"]
                .iter()
                .any(|k| u.ends_with(k))
        })
        .filter(|u| !LIVE_NEEDS.iter().any(|n| u.starts_with(n)))
        .cloned()
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The units enabled in a squashfs of a root: the links in
/// /etc/systemd/system/*.wants/ (unsquashfs -l lists without unpacking).
pub fn enabled_in(squashfs: &Path, runner: &hearth_system::runner::Runner) -> Result<Vec<String>> {
    let listing = runner.run(
        "unsquashfs",
        &["-l", &squashfs.display().to_string(), "etc/systemd/system"],
    )?;
    Ok(enabled_from_listing(&listing))
}

fn enabled_from_listing(listing: &str) -> Vec<String> {
    let mut units: Vec<String> = listing
        .lines()
        .filter_map(|l| l.strip_prefix("squashfs-root/etc/systemd/system/"))
        .filter_map(|rest| rest.split_once(".wants/").map(|(_, unit)| unit))
        .filter(|unit| !unit.is_empty() && !unit.contains('/'))
        .map(String::from)
        .collect();
    units.sort();
    units.dedup();
    units
}

/// /etc/systemd/system/UNIT -> /dev/null for each.
fn mask(tree: &Path, units: &[String]) -> Result<()> {
    let dir = tree.join("etc/systemd/system");
    fs::create_dir_all(&dir)?;
    for unit in units {
        let link = dir.join(unit);
        if link.symlink_metadata().is_ok() {
            continue;
        }
        std::os::unix::fs::symlink("/dev/null", &link)
            .with_context(|| format!("masking {unit}"))?;
    }
    Ok(())
}

/// Every shipped profile and the built one, each merged so that none needs
/// another or the folder it came from.
fn write_profiles(sources: &Sources, share: &Share) -> Result<()> {
    fs::create_dir_all(share.profiles())?;
    for entry in fs::read_dir(sources.workspace.join("profiles"))? {
        let path = entry?.path();
        let Some(name) = path.file_stem().and_then(|n| n.to_str()) else {
            continue;
        };
        if path.extension().is_some_and(|e| e == "toml") {
            fs::write(share.profile(name), merged_profile(&path)?)?;
        }
    }
    fs::write(share.profile(&sources.profile), &sources.profile_toml)?;
    Ok(())
}

/// The profile with `extends` resolved, as the medium carries it.
pub fn merged_profile(path: &Path) -> Result<String> {
    let table = hearth_schema::load::merged(path).map_err(|p| anyhow!("{p}"))?;
    Ok(toml::to_string(&table)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_live_system_masks_what_only_a_server_runs() {
        let listing = "squashfs-root\n\
            squashfs-root/etc/systemd/system/multi-user.target.wants\n\
            squashfs-root/etc/systemd/system/multi-user.target.wants/docker.service\n\
            squashfs-root/etc/systemd/system/multi-user.target.wants/systemd-networkd.service\n\
            squashfs-root/etc/systemd/system/sockets.target.wants/docker.socket\n\
            squashfs-root/etc/systemd/system/timers.target.wants/apt-daily.timer\n\
            squashfs-root/etc/systemd/system/zfs-import.target.wants/zfs-import-cache.service\n\
            squashfs-root/etc/systemd/system/zfs.target.wants/zfs-load-module.service\n\
            squashfs-root/etc/systemd/system/getty.target.wants/getty@tty1.service\n\
            squashfs-root/etc/systemd/system/multi-user.target.wants/remote-fs.target\n\
            squashfs-root/etc/systemd/system/sshd.service\n";
        let enabled = enabled_from_listing(listing);
        assert!(
            !enabled.contains(&"sshd.service".to_string()),
            "an alias, not a wants link"
        );
        assert_eq!(
            to_mask(&enabled),
            [
                "apt-daily.timer",
                "docker.service",
                "docker.socket",
                "zfs-import-cache.service"
            ]
        );
    }

    #[test]
    fn masks_are_links_to_dev_null() {
        let tree = std::env::temp_dir().join(format!("hearth-mask-{}", std::process::id()));
        let _ = fs::remove_dir_all(&tree);
        mask(&tree, &["docker.service".to_string()]).expect("mask");
        let link = fs::read_link(tree.join("etc/systemd/system/docker.service")).expect("link");
        assert_eq!(link, Path::new("/dev/null"));
        let _ = fs::remove_dir_all(&tree);
    }
}
