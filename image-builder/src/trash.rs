//! Trees a build no longer needs (a chroot is tens of thousands of files,
//! seconds to remove), removed beside the build's next steps instead of
//! before them. Each is first renamed to a `.partial` folder beside the
//! layers, which `cache prune` removes if the build stopped before it did.

use std::fs;
use std::path::Path;
use std::sync::Mutex;
use std::thread::JoinHandle;

use anyhow::{Context, Result};

#[derive(Default)]
pub struct Trash {
    removing: Mutex<Vec<JoinHandle<std::io::Result<()>>>>,
}

impl Trash {
    /// Moves `tree` out of the way (to `beside`, on the same filesystem)
    /// and removes it in the background.
    pub fn remove_later(&self, tree: &Path, beside: &Path) -> Result<()> {
        let name = tree.file_name().unwrap_or_default().to_string_lossy();
        let moved = beside.join(format!(".trash-{}-{name}.partial", std::process::id()));
        let _ = fs::remove_dir_all(&moved);
        fs::rename(tree, &moved).with_context(|| format!("moving {} aside", tree.display()))?;
        let handle = std::thread::spawn(move || fs::remove_dir_all(&moved));
        self.removing
            .lock()
            .map_err(|_| anyhow::anyhow!("trash"))?
            .push(handle);
        Ok(())
    }

    /// Waits until every tree handed over is gone.
    pub fn wait(&self) -> Result<()> {
        let handles =
            std::mem::take(&mut *self.removing.lock().map_err(|_| anyhow::anyhow!("trash"))?);
        for handle in handles {
            handle
                .join()
                .map_err(|_| anyhow::anyhow!("removing a tree panicked"))?
                .context("removing a tree the build no longer needs")?;
        }
        Ok(())
    }
}

impl Drop for Trash {
    fn drop(&mut self) {
        let _ = self.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn a_tree_handed_over_is_gone_after_wait() -> Result<()> {
        let dir = std::env::temp_dir().join(format!("hearth-trash-{}", std::process::id()));
        let tree = dir.join("rootfs");
        fs::create_dir_all(tree.join("usr/lib"))?;
        fs::write(tree.join("usr/lib/file"), "x")?;
        let trash = Trash::default();
        trash.remove_later(&tree, &dir)?;
        assert!(!tree.exists(), "moved aside at once");
        trash.wait()?;
        let left: Vec<PathBuf> = fs::read_dir(&dir)?.flatten().map(|e| e.path()).collect();
        assert!(left.is_empty(), "left behind: {left:?}");
        fs::remove_dir_all(&dir)?;
        Ok(())
    }
}
