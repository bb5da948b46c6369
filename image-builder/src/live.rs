//! The Hearth layer stacked over the base: overlays, the installer binary,
//! the profiles and the units that start the installer. Small, so a change
//! here rebuilds seconds of work, never the base.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::{json, Value};

use crate::cache::{hash_file, hash_tree};
use crate::rootfs::copy_dir;

pub struct Sources {
    pub workspace: PathBuf,
    pub profile: String,
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
    fs::copy(&sources.installer, bin.join("installer")).context("copying the installer")?;
    fs::set_permissions(bin.join("installer"), fs::Permissions::from_mode(0o755))?;
    let profiles = tree.join("usr/share/hearth/profiles");
    copy_dir(&sources.workspace.join("profiles"), &profiles)?;
    copy_dir(
        &sources.workspace.join("apps"),
        &tree.join("usr/share/hearth/apps"),
    )?;
    fs::write(
        tree.join("usr/share/hearth/default-profile"),
        format!("{}\n", sources.profile),
    )?;
    Ok(())
}
