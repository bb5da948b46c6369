//! Hearth's image builder: a profile becomes a hybrid ISO (BIOS and UEFI,
//! CD and USB stick) through content-addressed layers.

pub mod boot;
pub mod build;
pub mod cache;
pub mod download;
pub mod flash;
pub mod guest_image;
pub mod host;
pub mod inject;
pub mod iso;
pub mod live;
pub mod manifest;
pub mod netboot;
pub mod proxmox;
pub mod rootfs;
pub mod signing;
pub mod trash;
pub mod zfs_module;
