//! What a machine is made of: its firmware, its boot medium, its disks.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Firmware {
    Bios,
    Uefi,
}

/// How the ISO is attached: as a CD, or as a disk (a USB stick dd'ed with it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Medium {
    Cdrom,
    UsbStick,
}

/// How a disk is attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bus {
    Virtio,
    /// On the q35 machine's AHCI controller.
    Sata,
    Nvme,
}

/// A virtual disk: a qcow2 file made with qemu-img, kept across boots.
#[derive(Debug, Clone)]
pub struct Disk {
    pub path: PathBuf,
    pub serial: String,
    pub bus: Bus,
    /// Logical (and physical) sector size: 512 or 4096.
    pub sector: u32,
    /// Spinning (SATA only: virtio says nothing, NVMe never spins).
    pub rotational: bool,
    pub model: Option<String>,
    /// qcow2, or raw for a disk whose bytes a test hashes.
    pub format: &'static str,
    /// On a PCIe root port of its own, so it can be pulled and put back
    /// while the machine runs (virtio only).
    pub hotplug: bool,
}

impl Disk {
    /// Creates a blank disk of `gib` GiB in `dir` (replacing one there).
    pub fn blank(dir: &Path, serial: &str, gib: u64) -> Result<Disk> {
        fs::create_dir_all(dir)?;
        let path = dir.join(format!("{serial}.qcow2"));
        let _ = fs::remove_file(&path);
        let status = Command::new("qemu-img")
            .args(["create", "-q", "-f", "qcow2"])
            .arg(&path)
            .arg(format!("{gib}G"))
            .status()
            .context("qemu-img")?;
        if !status.success() {
            bail!("qemu-img create failed for {}", path.display());
        }
        Ok(Disk::at(path, serial, "qcow2"))
    }

    pub(super) fn at(path: PathBuf, serial: &str, format: &'static str) -> Disk {
        Disk {
            path,
            serial: serial.into(),
            bus: Bus::Virtio,
            sector: 512,
            rotational: false,
            model: None,
            format,
            hotplug: false,
        }
    }

    /// Creates a sparse raw disk image of `mib` MiB: its bytes are the
    /// disk's, so tools on the host can write and hash it.
    pub fn raw(dir: &Path, serial: &str, mib: u64) -> Result<Disk> {
        fs::create_dir_all(dir)?;
        let path = dir.join(format!("{serial}.img"));
        let _ = fs::remove_file(&path);
        File::create(&path)?.set_len(mib << 20)?;
        Ok(Disk::at(path, serial, "raw"))
    }

    pub fn on(mut self, bus: Bus) -> Disk {
        self.bus = bus;
        self
    }

    pub fn sector(mut self, bytes: u32) -> Disk {
        self.sector = bytes;
        self
    }

    /// A virtio disk that can be pulled and put back while the machine runs.
    pub fn hotplug(mut self) -> Disk {
        self.bus = Bus::Virtio;
        self.hotplug = true;
        self
    }

    pub fn spinning(mut self) -> Disk {
        self.rotational = true;
        self
    }

    pub fn model(mut self, model: &str) -> Disk {
        self.model = Some(model.into());
        self
    }

    /// The -device argument for this disk as drive `id`.
    pub(super) fn device(&self, id: &str, boot: &str, sata_port: usize) -> String {
        let serial = &self.serial;
        let sectors = format!(
            "logical_block_size={0},physical_block_size={0}",
            self.sector
        );
        match self.bus {
            Bus::Virtio if self.hotplug => crate::hotplug::device(id, serial, &sectors, boot),
            Bus::Virtio => format!("virtio-blk-pci,drive={id},serial={serial},{sectors}{boot}"),
            Bus::Nvme => format!("nvme,drive={id},serial={serial},{sectors}{boot}"),
            Bus::Sata => {
                let rate = if self.rotational { 7200 } else { 1 };
                let model = self
                    .model
                    .as_deref()
                    .map(|m| format!(",model={m}"))
                    .unwrap_or_default();
                // IDE/AHCI disks have 512-byte logical sectors; 4096 is physical only.
                format!(
                    "ide-hd,drive={id},bus={},serial={serial}{model},rotation_rate={rate},physical_block_size={}{boot}",
                    sata_bus(sata_port),
                    self.sector
                )
            }
        }
    }
}

/// Ports on each AHCI controller: q35's own (`ide`, port 0 the CD's), then
/// a second one (`ahci1`) the builder adds when a machine has more disks.
pub const AHCI_PORTS: usize = 6;
/// The second controller's -device argument.
pub const SECOND_AHCI: &str = "ich9-ahci,id=ahci1";

/// The AHCI bus of port `port`, counted over both controllers.
fn sata_bus(port: usize) -> String {
    if port < AHCI_PORTS {
        format!("ide.{port}")
    } else {
        format!("ahci1.{}", port - AHCI_PORTS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sata_ports_past_the_first_controller_go_on_the_second() {
        let disk = Disk::at(PathBuf::from("/x.qcow2"), "s", "qcow2").on(Bus::Sata);
        assert!(disk.device("d", "", 5).contains(",bus=ide.5,"));
        assert!(disk.device("d", "", AHCI_PORTS).contains(",bus=ahci1.0,"));
        assert!(disk.device("d", "", 10).contains(",bus=ahci1.4,"));
    }
}
