//! Writing the planned GPT with the gpt crate, and reading it back.

use anyhow::{anyhow, bail, Context, Result};
use gpt::disk::LogicalBlockSize;
use gpt::mbr::ProtectiveMBR;
use gpt::partition_types::{self, Type};

use super::device::Device;
use crate::plan::{PartitionKind, PlannedPartition};

/// A partition as the table on disk holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableEntry {
    pub number: u32,
    pub name: String,
    pub type_guid: String,
    pub first_lba: u64,
    pub last_lba: u64,
    pub guid: String,
}

fn block_size(sector: u64) -> Result<LogicalBlockSize> {
    match sector {
        512 => Ok(LogicalBlockSize::Lb512),
        4096 => Ok(LogicalBlockSize::Lb4096),
        other => bail!("{other}-byte sectors are not supported; allowed: 512, 4096"),
    }
}

fn part_type(kind: PartitionKind) -> Type {
    match kind {
        PartitionKind::BiosBoot => partition_types::BIOS,
        PartitionKind::Esp => partition_types::EFI,
        // The GUID OpenZFS gives its partitions (sgdisk's BF01).
        PartitionKind::Zfs => partition_types::MACOS_ZFS,
    }
}

/// Writes a protective MBR and a fresh GPT (new disk and partition GUIDs)
/// holding exactly the planned partitions.
pub fn write(device: &mut Device, partitions: &[PlannedPartition]) -> Result<()> {
    let lb = block_size(device.sector)?;
    let file = device.file.try_clone()?;
    let mut disk = gpt::GptConfig::new()
        .writable(true)
        .logical_block_size(lb)
        .change_partition_count(true)
        .create_from_device(file, None)
        .map_err(|e| anyhow!("starting a GPT on {}: {e}", device.path.display()))?;
    for part in partitions {
        let length = part.last_lba + 1 - part.first_lba;
        disk.add_partition_at(
            &part.name,
            part.number,
            part.first_lba,
            length,
            part_type(part.kind),
            0,
        )
        .map_err(|e| {
            anyhow!(
                "partition {} ({}) on {}: {e}",
                part.number,
                part.name,
                device.path.display()
            )
        })?;
    }
    let mut file = disk
        .write()
        .map_err(|e| anyhow!("writing the GPT of {}: {e}", device.path.display()))?;
    let lbas = device.size / device.sector;
    let protective = ProtectiveMBR::with_lb_size(u32::try_from(lbas - 1).unwrap_or(u32::MAX));
    protective.overwrite_lba0(&mut file).map_err(|e| {
        anyhow!(
            "writing the protective MBR of {}: {e}",
            device.path.display()
        )
    })?;
    device.sync()
}

/// Renames partition `number` from `from` to `to`; a partition by another
/// name is left as it is (an install finished twice).
pub fn rename(device: &mut Device, number: u32, from: &str, to: &str) -> Result<()> {
    let lb = block_size(device.sector)?;
    let file = device.file.try_clone()?;
    let mut disk = gpt::GptConfig::new()
        .writable(true)
        .logical_block_size(lb)
        .open_from_device(file)
        .map_err(|e| anyhow!("reading the GPT of {}: {e}", device.path.display()))?;
    let mut partitions = disk.partitions().clone();
    let Some(part) = partitions.get_mut(&number).filter(|p| p.name == from) else {
        return Ok(());
    };
    part.name = to.to_string();
    disk.update_partitions(partitions).map_err(|e| {
        anyhow!(
            "renaming partition {number} of {}: {e}",
            device.path.display()
        )
    })?;
    disk.write()
        .map_err(|e| anyhow!("writing the GPT of {}: {e}", device.path.display()))?;
    device.sync()
}

/// The table as it is on the device now.
pub fn read(device: &Device) -> Result<Vec<TableEntry>> {
    let lb = block_size(device.sector)?;
    let file = device.file.try_clone()?;
    let disk = gpt::GptConfig::new()
        .writable(false)
        .logical_block_size(lb)
        .only_valid_headers(true)
        .open_from_device(file)
        .map_err(|e| anyhow!("reading the GPT of {}: {e}", device.path.display()))?;
    Ok(disk
        .partitions()
        .iter()
        .filter(|(_, p)| p.is_used())
        .map(|(number, p)| TableEntry {
            number: *number,
            name: p.name.clone(),
            type_guid: p.part_type_guid.guid.to_string().to_uppercase(),
            first_lba: p.first_lba,
            last_lba: p.last_lba,
            guid: p.part_guid.to_string(),
        })
        .collect())
}

/// Write, then verify: the table read back must be the plan.
pub fn verify(device: &Device, planned: &[PlannedPartition]) -> Result<Vec<TableEntry>> {
    let table = read(device).context("reading back the table just written")?;
    let expected: Vec<_> = planned
        .iter()
        .map(|p| shape(p.number, &p.name, &p.type_guid, p.first_lba, p.last_lba))
        .collect();
    let actual: Vec<_> = table
        .iter()
        .map(|p| shape(p.number, &p.name, &p.type_guid, p.first_lba, p.last_lba))
        .collect();
    if expected != actual {
        bail!(
            "the GPT on {} is not the planned one:\n  planned: {expected:?}\n  on disk: {actual:?}",
            device.path.display()
        );
    }
    Ok(table)
}

/// What must match between the plan and the table (GUIDs are fresh).
fn shape<'a>(
    number: u32,
    name: &'a str,
    kind: &'a str,
    first: u64,
    last: u64,
) -> (u32, &'a str, &'a str, u64, u64) {
    (number, name, kind, first, last)
}
