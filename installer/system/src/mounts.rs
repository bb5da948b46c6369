//! The API filesystems bound into the target for chroot work, unmounted in
//! reverse order by `close` (or, best effort, when dropped).

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::runner::Runner;

pub struct Binds<'a> {
    mounted: Vec<PathBuf>,
    runner: &'a Runner,
}

impl<'a> Binds<'a> {
    pub fn new(target: &Path, runner: &'a Runner) -> Result<Binds<'a>> {
        let mut binds = Binds {
            mounted: Vec::new(),
            runner,
        };
        for dir in ["dev", "proc", "sys", "run"] {
            let at = target.join(dir);
            std::fs::create_dir_all(&at)?;
            let at_text = at.display().to_string();
            let source = format!("/{dir}");
            // One mount(8) does both (util-linux 2.23 and later).
            runner.run("mount", &["--rbind", "--make-rslave", &source, &at_text])?;
            binds.mounted.push(at);
        }
        Ok(binds)
    }

    pub fn close(&mut self) -> Result<()> {
        while let Some(at) = self.mounted.pop() {
            self.runner
                .run("umount", &["-R", &at.display().to_string()])?;
        }
        Ok(())
    }
}

impl Drop for Binds<'_> {
    fn drop(&mut self) {
        while let Some(at) = self.mounted.pop() {
            let _ = self
                .runner
                .run("umount", &["-R", "-l", &at.display().to_string()]);
        }
    }
}

/// Runs a command inside the target.
pub fn chroot(runner: &Runner, target: &Path, args: &[&str]) -> Result<String> {
    let mut all = vec![target.to_str().unwrap_or("/mnt/hearth")];
    all.extend(args);
    runner.run("chroot", &all)
}
