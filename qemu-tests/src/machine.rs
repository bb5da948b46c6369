//! A QEMU machine in the spirit of the NixOS test driver: built with its
//! firmware, disks and NIC, driven through its serial console.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use regex::Regex;

use crate::accel::Accel;

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

    fn at(path: PathBuf, serial: &str, format: &'static str) -> Disk {
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
    fn device(&self, id: &str, boot: &str, sata_port: usize) -> String {
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
                    "ide-hd,drive={id},bus=ide.{sata_port},serial={serial}{model},rotation_rate={rate},physical_block_size={}{boot}",
                    self.sector
                )
            }
        }
    }
}

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
            "q35".into(),
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
        let mut args: Vec<String> = Vec::new();
        if self.firmware == Firmware::Uefi {
            let vars = self.dir.join("OVMF_VARS.fd");
            fs::copy("/usr/share/OVMF/OVMF_VARS_4M.fd", &vars)
                .context("OVMF (apt install ovmf)")?;
            args.push("-drive".into());
            args.push(
                "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd"
                    .into(),
            );
            args.push("-drive".into());
            args.push(format!(
                "if=pflash,format=raw,unit=1,file={}",
                vars.display()
            ));
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
            args.push("-device".into());
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
        let args = self.args(&accel)?;
        let log_path = self.dir.join(format!("{}.serial.log", self.name));
        let errors = self.dir.join(format!("{}.qemu.log", self.name));
        let mut child = Command::new("qemu-system-x86_64")
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(File::create(&errors)?)
            .spawn()
            .context(
                "starting qemu-system-x86_64 (apt install -t bookworm-backports qemu-system-x86)",
            )?;
        let stdin = child.stdin.take().ok_or_else(|| anyhow!("no stdin"))?;
        let output = Arc::new(Mutex::new(String::new()));
        let mut stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
        let sink = Arc::clone(&output);
        let mut log = File::create(&log_path)?;
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let _ = log.write_all(&buf[..n]);
                if let Ok(mut text) = sink.lock() {
                    text.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
        });
        Ok(Machine {
            child,
            stdin,
            output,
            cursor: 0,
            slowdown: accel.slowdown(),
            log: log_path,
            counter: 0,
            monitor: self.monitor,
        })
    }
}

pub struct Machine {
    child: Child,
    stdin: ChildStdin,
    output: Arc<Mutex<String>>,
    /// Console output before this offset has been consumed by waits.
    cursor: usize,
    slowdown: u32,
    pub log: PathBuf,
    counter: u32,
    monitor: PathBuf,
}

impl Machine {
    /// A timeout given for KVM, stretched for the accelerator in use.
    pub fn scaled(&self, kvm_seconds: u64) -> Duration {
        Duration::from_secs(kvm_seconds * u64::from(self.slowdown))
    }

    /// Waits until the console prints text matching `pattern`; returns the match.
    pub fn wait_for_console(&mut self, pattern: &str, timeout: Duration) -> Result<String> {
        let regex = Regex::new(pattern)?;
        let started = Instant::now();
        loop {
            let text = self.output.lock().map(|t| t.clone()).unwrap_or_default();
            if let Some(found) = regex.find(&text[self.cursor.min(text.len())..]) {
                let matched = found.as_str().to_string();
                self.cursor += found.end();
                return Ok(matched);
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                let errors =
                    fs::read_to_string(self.log.with_extension("").with_extension("qemu.log"))
                        .unwrap_or_default();
                bail!(
                    "qemu exited ({status}) before the console printed /{pattern}/; see {}\n{}",
                    self.log.display(),
                    errors.trim()
                );
            }
            if started.elapsed() > timeout {
                let tail: String = text
                    .chars()
                    .rev()
                    .take(1500)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                bail!(
                    "no /{pattern}/ on the console after {}s; last output:\n{tail}",
                    timeout.as_secs()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn send(&mut self, text: &str) -> Result<()> {
        self.stdin.write_all(text.as_bytes())?;
        self.stdin.flush()?;
        Ok(())
    }

    /// Takes the serial root shell for commands: no echo, and no kernel or
    /// systemd status lines, which would land inside command output.
    pub fn take_shell(&mut self, timeout: Duration) -> Result<()> {
        self.wait_for_console(r"(?m)[#$] $", timeout)?;
        self.send("stty -echo; dmesg -n 1; kill -s RTMIN+21 1\n")?;
        Ok(())
    }

    /// Runs `command` in the serial root shell; returns (exit code, output).
    pub fn execute(&mut self, command: &str, timeout: Duration) -> Result<(i32, String)> {
        self.counter += 1;
        let n = self.counter;
        self.send(&format!("echo HEARTH-BEGIN-{n}; ( set -euo pipefail; {command} ) 2>&1; echo HEARTH-END-{n}-rc=$?\n"))?;
        self.wait_for_console(&format!("(?m)^HEARTH-BEGIN-{n}\\r?$"), timeout)?;
        let start = self.cursor;
        let end_marker = self.wait_for_console(&format!("HEARTH-END-{n}-rc=(\\d+)"), timeout)?;
        let text = self.output.lock().map(|t| t.clone()).unwrap_or_default();
        let body = text[start..self.cursor - end_marker.len()]
            .trim()
            .replace('\r', "");
        let code = end_marker
            .rsplit('=')
            .next()
            .and_then(|c| c.parse().ok())
            .unwrap_or(-1);
        Ok((code, body))
    }

    /// Runs `command`, which must succeed; returns its output.
    pub fn succeed(&mut self, command: &str, timeout: Duration) -> Result<String> {
        let (code, output) = self.execute(command, timeout)?;
        if code != 0 {
            bail!("`{command}` failed with exit {code}:\n{output}");
        }
        Ok(output)
    }

    /// Runs `command`, which must fail; returns its output.
    pub fn fail(&mut self, command: &str, timeout: Duration) -> Result<String> {
        let (code, output) = self.execute(command, timeout)?;
        if code == 0 {
            bail!("`{command}` succeeded but should have failed:\n{output}");
        }
        Ok(output)
    }

    /// Runs `command` every second until it succeeds, up to `timeout`.
    pub fn wait_until_succeeds(&mut self, command: &str, timeout: Duration) -> Result<String> {
        let started = Instant::now();
        loop {
            let left = timeout.saturating_sub(started.elapsed());
            let (code, output) = self.execute(command, left.max(Duration::from_secs(5)))?;
            if code == 0 {
                return Ok(output);
            }
            if started.elapsed() >= timeout {
                bail!(
                    "`{command}` still fails after {}s:\n{output}",
                    timeout.as_secs()
                );
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    }

    /// Waits until a systemd unit is active; fails at once, with its status,
    /// when the unit has failed (as the NixOS driver's wait_for_unit does).
    pub fn wait_for_unit(&mut self, unit: &str, timeout: Duration) -> Result<()> {
        let started = Instant::now();
        loop {
            let left = timeout
                .saturating_sub(started.elapsed())
                .max(Duration::from_secs(5));
            let (_, state) = self.execute(&format!("systemctl is-active {unit} || true"), left)?;
            match state.trim() {
                "active" => return Ok(()),
                "failed" => {
                    let (_, status) = self.execute(
                        &format!("systemctl status --no-pager -n 20 {unit} || true"),
                        left,
                    )?;
                    bail!("{unit} failed:\n{status}");
                }
                _ if started.elapsed() >= timeout => {
                    bail!(
                        "{unit} is still {} after {}s",
                        state.trim(),
                        timeout.as_secs()
                    )
                }
                _ => std::thread::sleep(Duration::from_secs(1)),
            }
        }
    }

    /// Waits until QEMU exits by itself (power-off), up to `timeout`.
    pub fn wait_for_exit(&mut self, timeout: Duration) -> Result<()> {
        let started = Instant::now();
        while started.elapsed() < timeout {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        bail!(
            "the machine did not power off within {}s; see {}",
            timeout.as_secs(),
            self.log.display()
        )
    }

    /// One command of QEMU's human monitor; returns what it printed.
    pub fn monitor(&self, command: &str) -> Result<String> {
        crate::hotplug::command(&self.monitor, command)
    }

    /// Pulls the `index`th disk (as given to the builder) out.
    pub fn unplug(&self, index: usize) -> Result<()> {
        crate::hotplug::unplug(&self.monitor, &format!("disk{index}"))
    }

    /// Puts `disk` back as the `index`th disk, in the same port.
    pub fn replug(&self, index: usize, disk: &Disk) -> Result<()> {
        let drive = format!("format={},file={}", disk.format, disk.path.display());
        let sectors = format!(
            "logical_block_size={0},physical_block_size={0}",
            disk.sector
        );
        crate::hotplug::replug(
            &self.monitor,
            &format!("disk{index}"),
            &drive,
            &disk.serial,
            &sectors,
        )
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_file(&self.monitor);
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        self.kill();
    }
}
