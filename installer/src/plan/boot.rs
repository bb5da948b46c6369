//! How the system boots: every root disk gets BIOS GRUB and an ESP, and the
//! kernel is told which dataset is the root.

use super::layout::partition_path;
use super::select::Selection;
use super::{BootDisk, BootPlan, VdevClass};
use crate::datasets::{root_pool, BOOT_ENV};
use crate::profile::Profile;

pub fn boot(profile: &Profile, selection: &Selection) -> BootPlan {
    let root = root_pool(profile).unwrap_or("rpool");
    let disks = selection
        .members
        .iter()
        .filter(|m| m.pool == root && m.class == VdevClass::Data)
        .flat_map(|m| m.disks.iter())
        .map(|disk| BootDisk {
            disk: disk.stable_path(),
            bios_boot: partition_path(disk, 1),
            esp: partition_path(disk, 2),
        })
        .collect();
    let mut cmdline = kernel_cmdline(&format!("{root}/ROOT/{BOOT_ENV}"));
    // Remote unlock: the initramfs brings the network up for dropbear.
    if let Some(args) = crate::services::encryption::kernel_args(profile) {
        cmdline = format!("{cmdline} {args}");
    }
    BootPlan {
        disks,
        kernel_cmdline: cmdline,
    }
}

/// What the kernel is told to boot: the root dataset, by the zfs initramfs.
pub fn kernel_cmdline(root_dataset: &str) -> String {
    format!("root=ZFS={root_dataset} boot=zfs")
}
