//! Hearth's system layer, shared by the installer and the image builder:
//! one runner for every command, the step timer, chroot and mount guards,
//! reading disks (inventory, signatures, ZFS labels), FAT32 ESP images and
//! the layout of the install medium.

pub mod accounts;
pub mod cpio;
pub mod device;
pub mod dkms;
pub mod esp;
mod fat_dots;
pub mod files;
pub mod grub;
pub mod inspect;
pub mod inventory;
pub mod locale;
pub mod medium;
pub mod mounts;
pub mod runner;
pub mod secure_boot;
pub mod steps;

/// The schema's modules the system layer's types are made of.
use hearth_schema::{profile, size};
