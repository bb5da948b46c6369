//! `image-builder flash`: write an ISO to a USB stick safely. Refuses a
//! device that is mounted, holds the running system, or is not removable
//! (unless --force); shows what it is and asks (unless --yes); writes with a
//! progress bar, syncs, reads back and compares SHA-256.

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use anyhow::{bail, Context, Result};
use hearth_system::device::Device;
use hearth_system::inventory;
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};

const CHUNK: usize = 4 << 20;

pub fn flash(iso: &Path, device: &Path, force: bool, yes: bool) -> Result<()> {
    let real =
        fs::canonicalize(device).with_context(|| format!("no device {}", device.display()))?;
    let inventory = inventory::probe_with(true)?;
    let Some(disk) = inventory.disks.iter().find(|d| d.path == real) else {
        bail!(
            "{} is not a whole disk; name the disk, e.g. /dev/sdX, not a partition",
            device.display()
        );
    };
    if disk.live_medium {
        bail!("refusing {}: it holds the running system", disk.describe());
    }
    let mounts = fs::read_to_string("/proc/mounts").unwrap_or_default();
    let name = real.display().to_string();
    if let Some(line) = mounts.lines().find(|l| {
        l.split_whitespace()
            .next()
            .is_some_and(|src| src.starts_with(&name))
    }) {
        bail!(
            "refusing {}: it is mounted ({line}); unmount it first",
            disk.describe()
        );
    }
    if !disk.removable && !force {
        bail!(
            "refusing {}: it is not removable; if it really is the stick to write, add --force",
            disk.describe()
        );
    }
    let iso_size = fs::metadata(iso)?.len();
    if iso_size > disk.size.0 {
        bail!(
            "{} is {} but {} holds only {}",
            iso.display(),
            iso_size,
            disk.describe(),
            disk.size.0
        );
    }
    println!("about to erase {}", disk.describe());
    if let Some(what) = disk.contents() {
        println!("it holds: {what}");
    }
    if !yes {
        let answer: String = dialoguer::Input::new()
            .with_prompt(format!(
                "type {} to write {} to it",
                real.display(),
                iso.display()
            ))
            .interact_text()?;
        if answer.trim() != name {
            bail!("not confirmed; nothing was written");
        }
    }
    let written = write(iso, &real, iso_size, disk.logical_sector)?;
    let read_back = read_back(&real, iso_size)?;
    if written != read_back {
        bail!(
            "read-back mismatch on {}: wrote {written}, read {read_back}",
            real.display()
        );
    }
    println!(
        "wrote and verified {} ({iso_size} bytes, sha256 {written})",
        real.display()
    );
    Ok(())
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    let style = ProgressStyle::with_template(
        "{msg} {bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(what.to_string());
    bar
}

fn write(iso: &Path, device: &Path, len: u64, sector: u32) -> Result<String> {
    let mut source = File::open(iso)?;
    let mut target = Device::open_write(device, u64::from(sector))?;
    let progress = bar(len, "writing");
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    target.file.seek(SeekFrom::Start(0))?;
    loop {
        let n = source.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        target
            .file
            .write_all(&buf[..n])
            .with_context(|| format!("writing {}", device.display()))?;
        progress.inc(n as u64);
    }
    target.sync()?;
    progress.finish_and_clear();
    Ok(format!("{:x}", hasher.finalize()))
}

fn read_back(device: &Path, len: u64) -> Result<String> {
    let mut file = File::open(device)?;
    let progress = bar(len, "verifying");
    let mut hasher = Sha256::new();
    let mut left = len;
    let mut buf = vec![0u8; CHUNK];
    while left > 0 {
        let n = (left as usize).min(CHUNK);
        file.read_exact(&mut buf[..n])
            .with_context(|| format!("reading back {}", device.display()))?;
        hasher.update(&buf[..n]);
        left -= n as u64;
        progress.inc(n as u64);
    }
    progress.finish_and_clear();
    Ok(format!("{:x}", hasher.finalize()))
}
