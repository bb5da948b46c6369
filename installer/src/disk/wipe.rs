//! Erasing what a disk holds before it is partitioned: the first and last
//! MiB of the disk (MBR, both GPTs, whole-disk ZFS labels 0-3, md
//! superblocks, filesystem signatures) and of every partition found on it
//! (ZFS labels at both ends of a vdev partition, md, filesystems).

use anyhow::Result;

use super::device::Device;
use crate::size::MIB;

/// Bytes cleared at each end of the disk and of each partition. ZFS keeps
/// two 256 KiB labels at each end; 1 MiB covers them and every common
/// signature, which all sit in the first or last 64 KiB.
pub const EDGE: u64 = MIB;

pub fn wipe(device: &mut Device, partitions: &[(u64, u64)]) -> Result<()> {
    for (start, len) in partitions {
        clear_edges(device, *start, *len)?;
    }
    clear_edges(device, 0, device.size)?;
    device.sync()
}

fn clear_edges(device: &mut Device, start: u64, len: u64) -> Result<()> {
    device.zero(start, EDGE.min(len))?;
    let tail = len.saturating_sub(EDGE);
    device.zero(start + tail, len - tail)
}
