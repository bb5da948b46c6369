//! A QEMU machine in the spirit of the NixOS test driver: built with its
//! firmware, disks and NIC, driven through its serial console.

mod builder;
mod disk;
pub mod secure_boot;

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use regex::Regex;

pub use builder::Builder;
pub use disk::{Bus, Disk, Firmware, Medium, AHCI_PORTS};

/// How QEMU was started, kept so a machine that froze can be started again.
#[derive(Clone)]
pub(crate) struct Launch {
    args: Vec<String>,
    log: PathBuf,
    errors: PathBuf,
    monitor: PathBuf,
    slowdown: u32,
}

pub struct Machine {
    child: Child,
    stdin: ChildStdin,
    output: Arc<Mutex<String>>,
    /// When the console last printed anything.
    heard: Arc<Mutex<Instant>>,
    /// Console output before this offset has been consumed by waits.
    cursor: usize,
    slowdown: u32,
    pub log: PathBuf,
    counter: u32,
    monitor: PathBuf,
    launch: Launch,
}

impl Machine {
    fn spawn(launch: Launch) -> Result<Machine> {
        let mut child = Command::new("qemu-system-x86_64")
            .args(&launch.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(File::create(&launch.errors)?)
            .spawn()
            .context(
                "starting qemu-system-x86_64 (apt install -t bookworm-backports qemu-system-x86)",
            )?;
        let stdin = child.stdin.take().ok_or_else(|| anyhow!("no stdin"))?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
        let output = Arc::new(Mutex::new(String::new()));
        let heard = Arc::new(Mutex::new(Instant::now()));
        let log = File::create(&launch.log)?;
        let sinks = (Arc::clone(&output), Arc::clone(&heard));
        std::thread::spawn(move || read_console(stdout, log, sinks));
        Ok(Machine {
            child,
            stdin,
            output,
            heard,
            cursor: 0,
            slowdown: launch.slowdown,
            log: launch.log.clone(),
            counter: 0,
            monitor: launch.monitor.clone(),
            launch,
        })
    }

    /// Waits for `pattern` while the machine boots. A guest whose console
    /// fell silent for the whole wait froze (a TCG hang seen once in CI,
    /// before any of Hearth's code ran): its state is kept, the freeze is
    /// recorded in target/qemu-tests/stalls.txt, and it boots once more.
    /// A guest that kept printing fails as any wait does.
    pub fn wait_for_boot(&mut self, pattern: &str, timeout: Duration) -> Result<String> {
        let error = match self.wait_for_console(pattern, timeout) {
            Ok(found) => return Ok(found),
            Err(error) => error,
        };
        let silent = self.heard.lock().map(|t| t.elapsed()).unwrap_or_default();
        if silent < timeout / 2 || self.child.try_wait()?.is_some() {
            return Err(error);
        }
        let state = self
            .monitor("info registers")
            .unwrap_or_else(|e| e.to_string());
        let frozen = self.log.with_extension("frozen.log");
        fs::rename(&self.log, &frozen)?;
        fs::write(frozen.with_extension("registers"), state)?;
        crate::budget::note_stall(&self.log, silent);
        self.kill();
        // The frozen machine is dropped below: its monitor path is the new
        // one's, so it must not remove that socket on its way out.
        self.monitor = PathBuf::new();
        *self = Machine::spawn(self.launch.clone())?;
        self.wait_for_console(pattern, timeout)
    }

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

    /// Picks the live system's root-shell entry in the ISO's boot menu and
    /// takes that shell; returns the live system's `HEARTH-LIVE` line.
    pub fn live_root_shell(&mut self) -> Result<String> {
        self.wait_for_boot("Hearth live system, root shell", self.scaled(60))?;
        self.send("s")?;
        let line = self.wait_for_console(r"HEARTH-LIVE [^\r\n]*", self.scaled(120))?;
        self.take_shell(self.scaled(30))?;
        Ok(line)
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

/// Copies the console into the log and the shared text, and notes when it
/// last spoke.
fn read_console(
    mut stdout: ChildStdout,
    mut log: File,
    (text, heard): (Arc<Mutex<String>>, Arc<Mutex<Instant>>),
) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = stdout.read(&mut buf) {
        if n == 0 {
            break;
        }
        let _ = log.write_all(&buf[..n]);
        if let Ok(mut text) = text.lock() {
            text.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        if let Ok(mut heard) = heard.lock() {
            *heard = Instant::now();
        }
    }
}
