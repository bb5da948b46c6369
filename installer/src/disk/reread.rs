//! After writing: the kernel re-reads the table and udev makes the nodes.

use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use crate::runner::Runner;

/// Asks the kernel to re-read the partition table (BLKRRPART through
/// blockdev; partx as the fallback for a disk with mounted partitions).
pub fn reread(device: &Path, runner: &Runner) -> Result<()> {
    let path = device.display().to_string();
    if runner.run("blockdev", &["--rereadpt", &path]).is_err() {
        runner.run("partx", &["--update", &path])?;
    }
    Ok(())
}

/// Waits until every node exists, with udev settled, or says which are missing.
pub fn wait_for(nodes: &[PathBuf], runner: &Runner, timeout: Duration) -> Result<()> {
    let started = Instant::now();
    loop {
        let seconds = timeout
            .saturating_sub(started.elapsed())
            .as_secs()
            .max(1)
            .to_string();
        let _ = runner.run("udevadm", &["settle", "--timeout", &seconds]);
        let missing: Vec<&PathBuf> = nodes.iter().filter(|n| !n.exists()).collect();
        if missing.is_empty() {
            return Ok(());
        }
        if started.elapsed() >= timeout {
            let names: Vec<String> = missing.iter().map(|n| n.display().to_string()).collect();
            bail!(
                "after {}s the kernel has not made {}; is GPT support (CONFIG_EFI_PARTITION) in this kernel?",
                timeout.as_secs(),
                names.join(", ")
            );
        }
        sleep(Duration::from_millis(200));
    }
}
