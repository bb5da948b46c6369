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
