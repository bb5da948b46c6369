//! A machine's QEMU command line, built up from its parts.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::{Bus, Disk, Firmware, Launch, Machine, Medium};
use crate::accel::Accel;

pub struct Builder {
    name: String,
    firmware: Firmware,
    memory_mib: u32,
    cpus: u32,
    iso: Option<(PathBuf, Medium)>,
    disks: Vec<Disk>,
    /// (protocol, host port on 127.0.0.1, guest port).
    forwards: Vec<(&'static str, u16, u16)>,
    dir: PathBuf,
    /// QEMU's human monitor, for pulling and putting back disks.
    monitor: PathBuf,
    mac: Option<String>,
    /// SMBIOS system serial (what DMI's product_serial says).
    serial: Option<String>,
    /// Boot from the NIC first: QEMU's TFTP folder and the boot file its
    /// DHCP names (iPXE, in the NIC's option ROM, runs a script itself).
    netboot: Option<(PathBuf, String)>,
    /// The user network's IPv4 network (QEMU's `net=`); default 10.0.2.0/24.
    network: Option<String>,
    /// UEFI with Secure Boot on (Microsoft's keys, as PCs ship) and these
    /// PEM certificates enrolled as Machine Owner Keys.
    secure_boot: Option<Vec<PathBuf>>,
    /// Boot on the variables the last machine in this folder left.
    keep_vars: bool,
}

impl Builder {
    pub fn new(name: &str, dir: &Path) -> Builder {
        Builder {
            name: name.into(),
            firmware: Firmware::Bios,
            memory_mib: 2048,
            cpus: 2,
            iso: None,
            disks: Vec::new(),
            forwards: Vec::new(),
            dir: dir.to_path_buf(),
            monitor: crate::hotplug::socket_path(name),
            mac: None,
            serial: None,
            netboot: None,
            network: None,
            secure_boot: None,
            keep_vars: false,
        }
    }

    /// The user network on `cidr` (e.g. 192.168.0.0/24): the guest gets
    /// .15 by DHCP and the host's connections come from .2.
    pub fn network(mut self, cidr: &str) -> Self {
        self.network = Some(cidr.into());
        self
    }

    pub fn mac(mut self, mac: &str) -> Self {
        self.mac = Some(mac.into());
        self
    }

    pub fn serial(mut self, serial: &str) -> Self {
        self.serial = Some(serial.into());
        self
    }

    /// Boots from the network: `tftp` is served by QEMU's user network,
    /// whose DHCP names `bootfile`.
    pub fn netboot(mut self, tftp: &Path, bootfile: &str) -> Self {
        self.netboot = Some((tftp.to_path_buf(), bootfile.into()));
        self
    }

    pub fn disk(mut self, disk: &Disk) -> Self {
        self.disks.push(disk.clone());
        self
    }

    /// The guest's SSH on this host port.
    pub fn ssh_forward(self, port: u16) -> Self {
        self.forward(port, 22)
    }

    /// The guest's TCP `guest` port on the host's 127.0.0.1:`host`.
    pub fn forward(mut self, host: u16, guest: u16) -> Self {
        self.forwards.push(("tcp", host, guest));
        self
    }

    /// The guest's UDP `guest` port on the host's 127.0.0.1:`host`.
    pub fn forward_udp(mut self, host: u16, guest: u16) -> Self {
        self.forwards.push(("udp", host, guest));
        self
    }

    pub fn cpus(mut self, cpus: u32) -> Self {
        self.cpus = cpus;
        self
    }

    pub fn firmware(mut self, firmware: Firmware) -> Self {
        self.firmware = firmware;
        self
    }

    /// Secure Boot's variables as the last machine in this folder left
    /// them, rather than made afresh.
    pub fn keep_vars(mut self) -> Self {
        self.keep_vars = true;
        self
    }

    /// UEFI with Secure Boot on, `moks` (PEM) enrolled as MOKs.
    pub fn secure_boot(mut self, moks: &[PathBuf]) -> Self {
        self.firmware = Firmware::Uefi;
        self.secure_boot = Some(moks.to_vec());
        self
    }

    pub fn memory(mut self, mib: u32) -> Self {
        self.memory_mib = mib;
        self
    }

    pub fn iso(mut self, iso: &Path, medium: Medium) -> Self {
        self.iso = Some((iso.to_path_buf(), medium));
        self
    }

    /// QEMU's command line for this machine.
    fn args(&self, accel: &Accel) -> Result<Vec<String>> {
        let mut args: Vec<String> = vec![
            "-name".into(),
            self.name.clone(),
            "-machine".into(),
            // Secure Boot's variable store lives in SMM.
            if self.secure_boot.is_some() {
                "q35,smm=on".into()
            } else {
                "q35".into()
            },
        ];
        args.extend(accel.args());
        args.extend(
            [
                "-smp",
                &self.cpus.to_string(),
                "-m",
                &self.memory_mib.to_string(),
            ]
            .map(String::from),
        );
        args.extend(
            [
                "-nodefaults",
                "-display",
                "none",
                "-serial",
                "stdio",
                "-no-reboot",
            ]
            .map(String::from),
        );
        args.extend(["-device", "virtio-rng-pci"].map(String::from));
        if let Some(serial) = &self.serial {
            args.extend(["-smbios".into(), format!("type=1,serial={serial}")]);
        }
        args.extend([
            "-monitor".into(),
            format!("unix:{},server=on,wait=off", self.monitor.display()),
        ]);
        args.extend(self.firmware_args()?);
        args.extend(self.medium_args());
        args.extend(self.disk_args());
        args.extend(self.nic_args());
        Ok(args)
    }

    fn firmware_args(&self) -> Result<Vec<String>> {
        if self.firmware != Firmware::Uefi {
            return Ok(Vec::new());
        }
        let vars = self.dir.join("OVMF_VARS.fd");
        let code = match &self.secure_boot {
            None => {
                fs::copy("/usr/share/OVMF/OVMF_VARS_4M.fd", &vars)
                    .context("OVMF (apt install ovmf)")?;
                "OVMF_CODE_4M.fd"
            }
            Some(moks) => {
                // What the last machine wrote there (an enrolment request)
                // stays, as a PC's NVRAM keeps it.
                if !(self.keep_vars && vars.is_file()) {
                    super::secure_boot::vars_with(moks, &vars)?;
                }
                "OVMF_CODE_4M.secboot.fd"
            }
        };
        let mut args: Vec<String> = vec![
            "-drive".into(),
            format!("if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/{code}"),
            "-drive".into(),
            format!("if=pflash,format=raw,unit=1,file={}", vars.display()),
        ];
        if self.secure_boot.is_some() {
            args.extend(
                ["-global", "driver=cfi.pflash01,property=secure,value=on"].map(String::from),
            );
        }
        Ok(args)
    }

    fn medium_args(&self) -> Vec<String> {
        let mut args: Vec<String> = Vec::new();
        if let Some((iso, medium)) = &self.iso {
            match medium {
                Medium::Cdrom => {
                    args.push("-drive".into());
                    args.push(format!(
                        "if=none,id=cd,media=cdrom,readonly=on,format=raw,file={}",
                        iso.display()
                    ));
                    args.extend(
                        ["-device", "ide-cd,drive=cd,bus=ide.0,bootindex=0"].map(String::from),
                    );
                }
                Medium::UsbStick => {
                    args.push("-drive".into());
                    args.push(format!(
                        "if=none,id=stick,format=raw,snapshot=on,file={}",
                        iso.display()
                    ));
                    args.extend(
                        [
                            "-device",
                            "qemu-xhci",
                            "-device",
                            "usb-storage,drive=stick,removable=on,bootindex=0",
                        ]
                        .map(String::from),
                    );
                }
            }
        }
        args
    }

    fn disk_args(&self) -> Vec<String> {
        let mut args: Vec<String> = Vec::new();
        for (i, disk) in self.disks.iter().enumerate() {
            if disk.hotplug {
                args.extend(["-device".into(), crate::hotplug::port(&format!("disk{i}"))]);
            }
            args.push("-drive".into());
            args.push(format!(
                "if=none,id=disk{i},format={},file={}",
                disk.format,
                disk.path.display()
            ));
            let boot = if self.iso.is_some() || self.netboot.is_some() {
                String::new()
            } else {
                format!(",bootindex={}", i + 1)
            };
            // One disk per AHCI port; port 0 is the CD's.
            let port = 1 + self.disks[..i]
                .iter()
                .filter(|d| d.bus == Bus::Sata)
                .count();
            if disk.bus == Bus::Sata && port == super::disk::AHCI_PORTS {
                args.extend(["-device".into(), super::disk::SECOND_AHCI.into()]);
            }
            args.push("-device".into());
            args.push(disk.device(&format!("disk{i}"), &boot, port));
        }
        args
    }

    fn nic_args(&self) -> Vec<String> {
        // A virtio NIC on QEMU's user network, with the forwards asked for.
        let forwards: String = self
            .forwards
            .iter()
            .map(|(proto, host, guest)| format!(",hostfwd={proto}:127.0.0.1:{host}-:{guest}"))
            .collect();
        let (tftp, boot) = match &self.netboot {
            Some((dir, file)) => (
                format!(",tftp={},bootfile={file}", dir.display()),
                ",bootindex=0",
            ),
            None => (String::new(), ""),
        };
        let mac = self
            .mac
            .as_ref()
            .map(|m| format!(",mac={m}"))
            .unwrap_or_default();
        let net = self
            .network
            .as_ref()
            .map(|n| format!(",net={n}"))
            .unwrap_or_default();
        vec![
            "-netdev".into(),
            format!("user,id=net0{net}{forwards}{tftp}"),
            "-device".into(),
            format!("virtio-net-pci,netdev=net0{mac}{boot}"),
        ]
    }

    pub fn start(self, accel: Accel) -> Result<Machine> {
        fs::create_dir_all(&self.dir)?;
        let launch = Launch {
            args: self.args(&accel)?,
            log: self.dir.join(format!("{}.serial.log", self.name)),
            errors: self.dir.join(format!("{}.qemu.log", self.name)),
            monitor: self.monitor,
            slowdown: accel.slowdown(),
        };
        Machine::spawn(launch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sixth_sata_disk_brings_the_second_controller_once() {
        let dir = std::env::temp_dir();
        let mut builder = Builder::new("ahci", &dir);
        for n in 0..7 {
            let disk = Disk::at(dir.join(format!("d{n}.qcow2")), &format!("s{n}"), "qcow2");
            builder = builder.disk(&disk.on(Bus::Sata));
        }
        let args = builder.disk_args();
        let second: Vec<_> = args
            .windows(2)
            .filter(|w| w[0] == "-device" && w[1] == super::super::disk::SECOND_AHCI)
            .collect();
        assert_eq!(second.len(), 1, "{args:?}");
        for pair in args.windows(2).filter(|w| w[0] == "-device") {
            assert!(!pair[1].starts_with('-'), "{args:?}");
        }
        let buses: Vec<_> = args.iter().filter(|a| a.contains(",bus=ahci1.")).collect();
        assert_eq!(buses.len(), 2, "ports 6 and 7 on the second: {args:?}");
    }
}
