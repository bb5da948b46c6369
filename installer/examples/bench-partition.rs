//! Prints how long Hearth takes to check, wipe, partition and format eight
//! disks: two root-mirror disks (BIOS boot, ESP, ZFS) and six raidz2 data
//! disks. Sparse image files by default; `--loop` puts them behind loop
//! devices (root), `--keep` leaves them for inspection.
//!
//!     cargo run --release -p installer --example bench-partition [-- --loop]

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use hearth_installer::disk::{self, Options};
use hearth_installer::inventory::{Disk, Inventory};
use hearth_installer::prepare::plan_from_files;
use hearth_installer::runner::Runner;
use hearth_installer::size::{Bytes, GIB};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let use_loops = args.iter().any(|a| a == "--loop");
    let keep = args.iter().any(|a| a == "--keep");
    let dir = std::env::temp_dir().join(format!("hearth-bench-{}", std::process::id()));
    fs::create_dir_all(&dir)?;
    let sizes = [32, 32, 64, 64, 64, 64, 64, 64].map(|g| g * GIB);
    let mut images = Vec::new();
    for (i, size) in sizes.iter().enumerate() {
        let path = dir.join(format!("disk{i}.img"));
        File::create(&path).and_then(|f| f.set_len(*size))?;
        images.push(path);
    }
    let loops: Vec<PathBuf> = if use_loops {
        images.iter().map(|i| attach(i)).collect::<Result<_>>()?
    } else {
        Vec::new()
    };
    let targets = if use_loops { &loops } else { &images };
    let disks = targets
        .iter()
        .zip(sizes)
        .map(|(path, size)| disk(path, size))
        .collect();
    let profile =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/profiles/eight-disks.toml");
    let plan = plan_from_files(&profile, None, &Inventory { disks })
        .map_err(|p| anyhow::anyhow!("{p}"))?;
    let runner = Runner::new(Some(&dir.join("bench.log")), false)?;

    let started = Instant::now();
    let result = disk::partition(&plan, &runner, &Options { wait: None });
    let elapsed = started.elapsed().as_secs_f64();

    for device in &loops {
        let _ = Command::new("losetup").arg("-d").arg(device).status();
    }
    if !keep {
        fs::remove_dir_all(&dir)?;
    }
    result?;
    let kind = if use_loops {
        "loop devices"
    } else {
        "sparse image files"
    };
    println!(
        "partitioned and formatted {} disks ({kind}) in {elapsed:.3} s",
        plan.erase.len()
    );
    println!(
        "  {:.1} ms per disk; {} ESPs formatted FAT32",
        elapsed * 1000.0 / plan.erase.len() as f64,
        plan.boot.disks.len()
    );
    if keep {
        println!("  images kept in {}", dir.display());
    }
    Ok(())
}

fn attach(image: &Path) -> Result<PathBuf> {
    let out = Command::new("losetup")
        .args(["--find", "--show"])
        .arg(image)
        .output()
        .context("losetup")?;
    if !out.status.success() {
        bail!(
            "losetup: {} (loop devices need root)",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

fn disk(path: &Path, size: u64) -> Disk {
    let mut disk = Disk::blank(path, Bytes(size), 512);
    disk.rotational = size > 32 * GIB;
    disk
}
