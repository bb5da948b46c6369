//! Pulling a disk out of a running machine and putting it back, as a
//! person does with a hot-swap bay: the disk sits on a PCIe root port of
//! its own, and QEMU's human monitor unplugs and replugs it.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use anyhow::{bail, Context, Result};

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

/// One human-monitor command on the monitor at `socket`; returns what
/// QEMU printed for it.
pub fn command(socket: &Path, command: &str) -> Result<String> {
    let mut stream = connect(socket)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    read_prompt(&mut stream)?;
    stream.write_all(format!("{command}\n").as_bytes())?;
    let out = read_prompt(&mut stream)?;
    Ok(out.replace("(qemu) ", "").trim().to_string())
}

/// Pulls drive `id`'s device out of its port.
pub fn unplug(socket: &Path, id: &str) -> Result<()> {
    let out = command(socket, &format!("device_del dev-{id}"))?;
    if !out.is_empty() && !out.starts_with("device_del") {
        bail!("device_del dev-{id}: {out}");
    }
    Ok(())
}

/// Puts an image back as drive `id`, in the same port.
pub fn replug(socket: &Path, id: &str, drive: &str, serial: &str, sectors: &str) -> Result<()> {
    let added = command(socket, &format!("drive_add 0 if=none,id={id},{drive}"))?;
    // A drive QEMU did not delete with its device is still there to use.
    if !added.contains("OK") && !added.contains("Duplicate") {
        bail!("drive_add {id}: {added}");
    }
    let out = command(
        socket,
        &format!("device_add {}", device(id, serial, sectors, "")),
    )?;
    if !out.is_empty() && !out.starts_with("device_add") {
        bail!("device_add {id}: {out}");
    }
    Ok(())
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
