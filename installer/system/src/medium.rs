//! The install medium's layout, the one contract between the builder that
//! writes the ISO and the live system that reads it.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

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

/// `unsquashfs`'s arguments that unpack `squashfs` into `dest`: the
/// install's unpack and the benchmark's floor are the same command.
pub fn unpack_args(squashfs: &Path, dest: &Path) -> Vec<String> {
    vec![
        "-f".into(),
        "-n".into(),
        "-d".into(),
        dest.display().to_string(),
        squashfs.display().to_string(),
    ]
}

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

impl Share {
    /// The packages the medium's base system holds.
    pub fn carried(&self) -> Result<BTreeSet<String>> {
        let path = self.packages();
        let text = fs::read_to_string(&path).with_context(|| {
            format!(
                "{} is missing: this medium does not say which packages it carries",
                path.display()
            )
        })?;
        Ok(text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect())
    }

    /// Refuses a profile whose packages this medium does not carry: an
    /// install would lack its services.
    pub fn check_carries(&self, profile: &str, needed: &[String]) -> Result<()> {
        let missing = missing(&self.carried()?, needed);
        if !missing.is_empty() {
            bail!(
                "this medium cannot install profile `{profile}`: its base lacks {}; build an ISO for that profile (image-builder build --profile ...)",
                missing.join(", ")
            );
        }
        Ok(())
    }
}

/// The packages of `needed` that `carried` lacks.
pub fn missing<'a>(carried: &BTreeSet<String>, needed: &'a [String]) -> Vec<&'a str> {
    needed
        .iter()
        .filter(|p| !carried.contains(p.as_str()))
        .map(String::as_str)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_needing_what_the_medium_lacks_is_refused_by_name() {
        let dir = std::env::temp_dir().join(format!("hearth-share-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("dir");
        let share = Share::at(&dir);
        fs::write(share.packages(), "openssh-server\nzfsutils-linux\n").expect("write");
        let needed = |list: &[&str]| list.iter().map(|p| p.to_string()).collect::<Vec<_>>();
        assert!(share
            .check_carries("minimal", &needed(&["openssh-server"]))
            .is_ok());
        let err = share
            .check_carries(
                "nas",
                &needed(&["openssh-server", "samba", "nfs-kernel-server"]),
            )
            .expect_err("samba is not carried");
        fs::remove_dir_all(&dir).expect("cleanup");
        let text = format!("{err:#}");
        assert!(text.contains("profile `nas`"), "{text}");
        assert!(text.contains("lacks samba, nfs-kernel-server"), "{text}");
    }

    #[test]
    fn a_medium_without_its_package_list_is_refused() {
        let share = Share::at(Path::new("/nonexistent/hearth"));
        let err = share.check_carries("minimal", &[]).expect_err("no list");
        assert!(format!("{err:#}").contains("does not say which packages"));
    }
}
