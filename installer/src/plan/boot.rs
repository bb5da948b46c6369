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
    // Remote unlock: the initramfs brings the network up for dropbear.
    let args = crate::services::boot_env::kernel_args(profile);
    BootPlan {
        disks,
        kernel_cmdline: crate::services::boot_env::cmdline(root, BOOT_ENV, &args),
        environments: profile.boot_environments.clone(),
        // Whether to enroll it is the answer's (see plan::plan).
        machine_key: Default::default(),
    }
}
