//! Trees a build no longer needs (a chroot is tens of thousands of files,
//! seconds to remove), removed beside the build's next steps instead of
//! before them. Each is first renamed to a `.partial` folder beside the
//! layers, which `cache prune` removes if the build stopped before it did.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::thread::JoinHandle;

use anyhow::{Context, Result};

pub struct Trash {
    /// Where trees are moved to: the layers' folder, on their filesystem.
    dir: PathBuf,
    removing: Mutex<Vec<JoinHandle<std::io::Result<()>>>>,
}

impl Trash {
    pub fn new(dir: PathBuf) -> Trash {
        Trash {
            dir,
            removing: Mutex::default(),
        }
    }

    /// Moves `tree` out of the way and removes it in the background.
    /// Returns where it was moved.
    pub fn remove_later(&self, tree: &Path) -> Result<PathBuf> {
        // Unique in this process too: builds of other layers run beside.
        static TAKEN: AtomicU64 = AtomicU64::new(0);
        let n = TAKEN.fetch_add(1, Ordering::Relaxed);
        let name = tree.file_name().unwrap_or_default().to_string_lossy();
        let moved = self
            .dir
            .join(format!(".trash-{}-{n}-{name}.partial", std::process::id()));
        fs::rename(tree, &moved).with_context(|| format!("moving {} aside", tree.display()))?;
        let removing = moved.clone();
        let handle = std::thread::spawn(move || fs::remove_dir_all(&removing));
        self.removing
            .lock()
            .map_err(|_| anyhow::anyhow!("trash"))?
            .push(handle);
        Ok(moved)
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

    #[test]
    fn a_tree_handed_over_is_gone_after_wait() -> Result<()> {
        let dir = std::env::temp_dir().join(format!("hearth-trash-{}", std::process::id()));
        let tree = dir.join("rootfs");
        fs::create_dir_all(tree.join("usr/lib"))?;
        fs::write(tree.join("usr/lib/file"), "x")?;
        let trash = Trash::new(dir.clone());
        let first = trash.remove_later(&tree)?;
        assert!(!tree.exists(), "moved aside at once");
        // A second tree of the same name, as another layer's build hands over.
        fs::create_dir_all(&tree)?;
        let second = trash.remove_later(&tree)?;
        assert_ne!(first, second);
        trash.wait()?;
        let left: Vec<PathBuf> = fs::read_dir(&dir)?.flatten().map(|e| e.path()).collect();
        assert!(left.is_empty(), "left behind: {left:?}");
        fs::remove_dir_all(&dir)?;
        Ok(())
    }
}
