//! Where each environment's /boot is read from: / for the running one,
//! the upgrade's mount for a new one, a read-only mount for the others.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::runner::Runner;

/// A dataset mounted for a while, unmounted when dropped.
pub struct Mounted<'a> {
    pub dir: PathBuf,
    runner: &'a Runner,
}

impl<'a> Mounted<'a> {
    /// `dataset` (mountpoint=/, canmount=noauto) at `dir`.
    pub fn at(dataset: &str, dir: &Path, read_only: bool, runner: &'a Runner) -> Result<Self> {
        let options = if read_only { "ro,zfsutil" } else { "zfsutil" };
        Mounted::with(&["-t", "zfs", "-o", options, dataset], dir, runner)
    }

    /// `mount ARGS DIR`, the folder made first.
    pub fn with(args: &[&str], dir: &Path, runner: &'a Runner) -> Result<Self> {
        fs::create_dir_all(dir)?;
        let at = dir.display().to_string();
        let mut all = args.to_vec();
        all.push(&at);
        runner.run("mount", &all)?;
        Ok(Mounted {
            dir: dir.to_path_buf(),
            runner,
        })
    }
}

impl Drop for Mounted<'_> {
    fn drop(&mut self) {
        let dir = self.dir.display().to_string();
        if self.runner.run("umount", &[&dir]).is_ok() {
            let _ = fs::remove_dir(&self.dir);
        }
    }
}

/// Each environment's root, mounting those that are not at hand.
pub struct Roots<'a> {
    at_hand: Vec<(String, PathBuf)>,
    mounted: Vec<(String, Mounted<'a>)>,
}

impl<'a> Roots<'a> {
    pub fn new(at_hand: Vec<(String, PathBuf)>) -> Self {
        Roots {
            at_hand,
            mounted: Vec::new(),
        }
    }

    pub fn root(&mut self, pool: &str, name: &str, runner: &'a Runner) -> Result<PathBuf> {
        if let Some((_, path)) = self.at_hand.iter().find(|(n, _)| n == name) {
            return Ok(path.clone());
        }
        if let Some((_, m)) = self.mounted.iter().find(|(n, _)| n == name) {
            return Ok(m.dir.clone());
        }
        let dir = Path::new("/run/hearth/be").join(name);
        let mount = Mounted::at(&format!("{pool}/ROOT/{name}"), &dir, true, runner)?;
        self.mounted.push((name.to_string(), mount));
        Ok(dir)
    }
}
