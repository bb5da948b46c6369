//! The disk layer: the part of the plan that writes disks. Each planned disk
//! is checked against the plan (size, sector size, contents), wiped, given
//! its GPT, verified, and its ESPs formatted; then the kernel re-reads it.
//! Disks the plan does not erase are never opened for writing.

pub mod gpt;
pub mod reread;
pub mod wipe;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::at_once::at_once;
use crate::plan::{DiskPlan, PartitionKind, Plan};
use crate::runner::Runner;
use hearth_system::device::Device;
pub use hearth_system::inventory::UNFINISHED;
pub use hearth_system::{device, esp, inspect};

pub struct Options {
    /// How long to wait for the partition nodes; None: do not wait (image files).
    pub wait: Option<Duration>,
}

/// Partitions every disk the plan erases.
pub fn partition(plan: &Plan, runner: &Runner, options: &Options) -> Result<()> {
    partition_disks(&plan.erase, runner, options)
}

/// As `partition`, for an install: each ZFS partition is named
/// [`UNFINISHED`] until [`finish`] renames it, so a disk whose install was
/// cut off is known for Hearth's own by the next one.
pub fn partition_for_install(plan: &Plan, runner: &Runner, options: &Options) -> Result<()> {
    let marked: Vec<DiskPlan> = plan.erase.iter().map(marked).collect();
    partition_disks(&marked, runner, options)
}

/// The install has finished (pools exported): each erased disk's ZFS
/// partition gets its planned name back.
pub fn finish(plan: &Plan, runner: &Runner) -> Result<()> {
    if runner.is_dry_run() {
        return Ok(());
    }
    for disk in &plan.erase {
        let path = present_path(disk)?;
        let mut device = Device::open_write(&path, u64::from(disk.disk.logical_sector))?;
        for part in disk
            .partitions
            .iter()
            .filter(|p| p.kind == PartitionKind::Zfs)
        {
            gpt::rename(&mut device, part.number, UNFINISHED, &part.name)
                .with_context(|| format!("finishing {}", path.display()))?;
        }
        runner.note(&format!(
            "{}: install finished, marker removed",
            path.display()
        ));
    }
    Ok(())
}

fn marked(disk: &DiskPlan) -> DiskPlan {
    let mut disk = disk.clone();
    for part in disk
        .partitions
        .iter_mut()
        .filter(|p| p.kind == PartitionKind::Zfs)
    {
        part.name = UNFINISHED.to_string();
    }
    disk
}

/// Partitions planned disks, all at once: each waits mostly for its own
/// writes and for udev.
pub fn partition_disks(disks: &[DiskPlan], runner: &Runner, options: &Options) -> Result<()> {
    // Every disk is checked before any is written: a refusal leaves all untouched.
    let mut targets = Vec::new();
    for disk in disks {
        targets.push(check(disk, runner)?);
    }
    at_once(disks.iter().zip(targets), "partitioning", |(disk, path)| {
        let started = Instant::now();
        write_disk(disk, &path, runner, options)
            .with_context(|| format!("partitioning {}", path.display()))?;
        runner.note(&format!(
            "{}: done in {:.1}s",
            path.display(),
            started.elapsed().as_secs_f64()
        ));
        Ok(())
    })?;
    Ok(())
}

/// The device a planned disk is now, if it still is the disk that was planned.
pub fn check(disk: &DiskPlan, runner: &Runner) -> Result<PathBuf> {
    let path = present_path(disk)?;
    same_serial(disk, &path, runner)?;
    let sector = u64::from(disk.disk.logical_sector);
    let mut device = Device::open_read(&path, sector)?;
    if device.size != disk.disk.size.0 {
        bail!(
            "refusing {}: it is {} bytes but the planned disk ({}) was {}; this is not the disk that was planned",
            path.display(),
            device.size,
            disk.disk.serial.as_deref().unwrap_or("no serial"),
            disk.disk.size.0
        );
    }
    let found = inspect::inspect(&mut device, runner)?;
    if !found.is_blank() && !disk.wipe {
        bail!(
            "refusing {}: it holds {found}, and the answer does not say wipe = true for it; nothing was written",
            path.display()
        );
    }
    runner.note(&format!(
        "{}: {} ({}), holds {found}",
        path.display(),
        disk.role,
        disk.disk.size.decimal()
    ));
    Ok(path)
}

/// A disk planned by its by-id link is found by that link only: a kernel
/// name of the same size may be another disk.
fn present_path(disk: &DiskPlan) -> Result<PathBuf> {
    let planned = &disk.disk;
    if planned.stable_path.exists() {
        return Ok(planned.stable_path.clone());
    }
    if planned.stable_path != planned.path {
        bail!(
            "refusing {}: its link {} is gone, so it cannot be told from another disk; nothing was written (plan again)",
            planned.path.display(),
            planned.stable_path.display()
        );
    }
    Ok(planned.path.clone())
}

/// The serial the plan recorded, read again from the device now.
fn same_serial(disk: &DiskPlan, path: &std::path::Path, runner: &Runner) -> Result<()> {
    let Some(planned) = disk.disk.serial.as_deref() else {
        return Ok(());
    };
    let shown = path.display().to_string();
    let (_, now) = runner.query("lsblk", &["-dno", "SERIAL", &shown])?;
    let now = now.trim();
    if !now.is_empty() && now != planned {
        bail!("refusing {shown}: its serial is {now}, the planned disk's was {planned}; nothing was written");
    }
    Ok(())
}

fn write_disk(
    disk: &DiskPlan,
    path: &std::path::Path,
    runner: &Runner,
    options: &Options,
) -> Result<()> {
    let sector = u64::from(disk.disk.logical_sector);
    if runner.is_dry_run() {
        runner.note(&format!(
            "{}: would wipe, write {} partitions and format the ESP",
            path.display(),
            disk.partitions.len()
        ));
        return Ok(());
    }
    let mut device = Device::open_write(path, sector)?;
    let found = inspect::inspect(&mut device, runner)?;
    runner.note(&format!("{}: wiping {found}", path.display()));
    let result = wipe::wipe(&mut device, &found.partitions)
        .and_then(|()| gpt::write(&mut device, &disk.partitions))
        .and_then(|()| gpt::verify(&device, &disk.partitions))
        .and_then(|table| format_esps(&mut device, disk, &table));
    if let Err(err) = result {
        // A half-written disk must not look bootable or partitioned.
        let _ = wipe::wipe(&mut device, &[]);
        return Err(err);
    }
    runner.note(&format!("{}: GPT written and verified", path.display()));
    drop(device);
    if let Some(timeout) = options.wait {
        let nodes: Vec<PathBuf> = disk.partitions.iter().map(|p| p.path.clone()).collect();
        reread::reread(path, runner)?;
        reread::wait_for(&nodes, runner, timeout)?;
    }
    Ok(())
}

fn format_esps(device: &mut Device, disk: &DiskPlan, table: &[gpt::TableEntry]) -> Result<()> {
    for part in disk
        .partitions
        .iter()
        .filter(|p| p.kind == PartitionKind::Esp)
    {
        let guid = table
            .iter()
            .find(|t| t.number == part.number)
            .map(|t| t.guid.clone())
            .unwrap_or_default();
        esp::format_range(device, part.start.0, part.size.0, volume_id(&guid), None)?;
    }
    device.sync()
}

/// A FAT volume id from the partition's fresh GUID: unique per disk, and
/// the same number every tool shows for that partition.
fn volume_id(guid: &str) -> u32 {
    let hex: String = guid
        .chars()
        .filter(char::is_ascii_hexdigit)
        .take(8)
        .collect();
    u32::from_str_radix(&hex, 16).unwrap_or(0x4845_4152)
}
