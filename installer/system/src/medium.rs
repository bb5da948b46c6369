//! The install medium's layout, the one contract between the builder that
//! writes the ISO and the live system that reads it.

use std::path::{Path, PathBuf};

/// On the ISO: the base system, compressed once and cached.
pub const BASE_SQUASHFS: &str = "live/00-base.squashfs";
/// On the ISO: Hearth's layer (installer, profiles, apps), stacked over the base.
pub const HEARTH_SQUASHFS: &str = "live/10-hearth.squashfs";
/// On the ISO: the live kernel and initrd.
pub const KERNEL: &str = "live/vmlinuz";
pub const INITRD: &str = "live/initrd.img";
/// On the ISO: an embedded answer file (`inject-answer` puts it there).
pub const ANSWER: &str = "hearth/answer.toml";
/// On the ISO: the profile the ISO was built from, with `extends` resolved.
pub const PROFILE: &str = "hearth/profile.toml";

/// In the live system: where the Hearth layer keeps its data.
pub const SHARE: &str = "/usr/share/hearth";

/// Where things are in a Hearth layer rooted at `share` (the live
/// system's [`SHARE`], or the tree the builder assembles).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share {
    pub root: PathBuf,
}

impl Share {
    pub fn live() -> Self {
        Share::at(Path::new(SHARE))
    }

    pub fn at(root: &Path) -> Self {
        Share {
            root: root.to_path_buf(),
        }
    }

    /// The name of the profile the medium was built for.
    pub fn default_profile(&self) -> PathBuf {
        self.root.join("default-profile")
    }

    /// The shipped profiles, each merged (extends resolved), as `<name>.toml`.
    pub fn profiles(&self) -> PathBuf {
        self.root.join("profiles")
    }

    pub fn profile(&self, name: &str) -> PathBuf {
        self.profiles().join(format!("{name}.toml"))
    }

    /// The compose apps the profiles may name.
    pub fn apps(&self) -> PathBuf {
        self.root.join("apps")
    }

    /// Every package the medium's base system holds, one a line.
    pub fn packages(&self) -> PathBuf {
        self.root.join("packages")
    }
}
