//! Pulling a disk out of a running machine and putting it back, as a
//! person does with a hot-swap bay: the disk sits on a PCIe root port of
//! its own, and QEMU's human monitor unplugs and replugs it.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::machine::{Disk, Machine};

/// A short path: a unix socket's name has at most 107 bytes.
pub fn socket_path(name: &str) -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    PathBuf::from(format!(
        "/tmp/hearth-{}-{n}-{name}.monitor",
        std::process::id()
    ))
}

/// The root port drive `id`'s device sits on.
pub fn port(id: &str) -> String {
    let n: u32 = id.trim_start_matches("disk").parse().unwrap_or(0);
    format!(
        "pcie-root-port,id=port-{id},chassis={},slot={}",
        n + 10,
        n + 10
    )
}

pub fn device(id: &str, serial: &str, sectors: &str, boot: &str) -> String {
    format!("virtio-blk-pci,drive={id},id=dev-{id},bus=port-{id},serial={serial},{sectors}{boot}")
}

impl Machine {
    /// One human-monitor command; returns what QEMU printed for it.
    pub fn monitor(&self, command: &str) -> Result<String> {
        let mut stream = connect(&self.monitor)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        read_prompt(&mut stream)?;
        stream.write_all(format!("{command}\n").as_bytes())?;
        let out = read_prompt(&mut stream)?;
        Ok(out.replace("(qemu) ", "").trim().to_string())
    }

    /// Pulls the `index`th disk (as given to the builder) out.
    pub fn unplug(&self, index: usize) -> Result<()> {
        let out = self.monitor(&format!("device_del dev-disk{index}"))?;
        if !out.is_empty() && !out.starts_with("device_del") {
            bail!("device_del dev-disk{index}: {out}");
        }
        Ok(())
    }

    /// Puts `disk` back as the `index`th disk, in the same port.
    pub fn replug(&self, index: usize, disk: &Disk) -> Result<()> {
        let id = format!("disk{index}");
        let added = self.monitor(&format!(
            "drive_add 0 if=none,id={id},format={},file={}",
            disk.format,
            disk.path.display()
        ))?;
        // A drive QEMU did not delete with its device is still there to use.
        if !added.contains("OK") && !added.contains("Duplicate") {
            bail!("drive_add {id}: {added}");
        }
        let sectors = format!(
            "logical_block_size={0},physical_block_size={0}",
            disk.sector
        );
        let out = self.monitor(&format!(
            "device_add {}",
            device(&id, &disk.serial, &sectors, "")
        ))?;
        let echoed = out.starts_with("device_add");
        if !out.is_empty() && !echoed {
            bail!("device_add {id}: {out}");
        }
        Ok(())
    }
}

/// QEMU makes the socket as it starts: wait for it a while.
fn connect(path: &std::path::Path) -> Result<UnixStream> {
    let mut tries = 0;
    loop {
        match UnixStream::connect(path) {
            Ok(stream) => return Ok(stream),
            Err(err) if tries >= 40 => {
                return Err(err).with_context(|| format!("QEMU's monitor at {}", path.display()))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(250)),
        }
        tries += 1;
    }
}

/// Reads until QEMU's `(qemu) ` prompt.
fn read_prompt(stream: &mut UnixStream) -> Result<String> {
    let mut text = String::new();
    let mut buf = [0u8; 1024];
    while !text.ends_with("(qemu) ") {
        let n = stream.read(&mut buf).context("reading QEMU's monitor")?;
        if n == 0 {
            bail!("QEMU's monitor closed: {text}");
        }
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    // The monitor echoes with terminal escapes; keep the printable lines.
    let clean: String = text
        .split('\n')
        .map(|l| {
            let l = l.trim_end_matches('\r');
            l.rsplit('\r').next().unwrap_or(l)
        })
        .filter(|l| !l.contains('\u{1b}'))
        .collect::<Vec<_>>()
        .join("\n");
    Ok(clean)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::Builder;

    /// QEMU's monitor answers, and a drive can be added while it runs.
    #[test]
    fn the_monitor_answers_and_takes_a_drive() {
        if !hearth_system::runner::on_path("qemu-system-x86_64") {
            eprintln!("SKIP: qemu-system-x86_64 missing (.ci/run installs it)");
            return;
        }
        let dir = std::env::temp_dir().join(format!("hearth-hotplug-{}", std::process::id()));
        let disk = Disk::blank(&dir, "hot-1", 1).expect("disk").hotplug();
        let mut machine = Builder::new("hotplug", &dir)
            .disk(&disk)
            .start(crate::accel::Accel::Tcg)
            .expect("qemu");
        let block = machine.monitor("info block").expect("monitor");
        assert!(block.contains("disk0"), "{block}");
        let pci = machine.monitor("info pci").expect("monitor");
        assert!(
            pci.contains("hot-1") || pci.contains("PCI bridge") || pci.contains("Bus"),
            "{pci}"
        );
        let other = Disk::blank(&dir, "hot-2", 1).expect("disk");
        let added = machine
            .monitor(&format!(
                "drive_add 0 if=none,id=extra,format=qcow2,file={}",
                other.path.display()
            ))
            .expect("drive_add");
        assert!(added.contains("OK"), "{added}");
        machine.kill();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
