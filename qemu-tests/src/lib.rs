//! The QEMU test harness for Hearth ISOs: machines with BIOS or UEFI
//! firmware, the ISO as a CD or a USB stick, driven and read through the
//! serial console.

pub mod accel;
pub mod answer_server;
pub mod apt_repo;
pub mod budget;
pub mod hotplug;
pub mod iso;
pub mod layout;
pub mod machine;
pub mod probe;
pub mod pve_standin;
pub mod sinks;
pub mod ssh;
pub mod test_machine;
pub mod wg_peer;
