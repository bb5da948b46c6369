//! What the installer does on the booted ISO's consoles (tty1, ttyS0):
//! report what this live system is (installer version, profile, whether the
//! zfs module loads), then hand over the console.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use anyhow::Result;

use crate::runner::Runner;

/// A kernel command-line value, e.g. `hearth.profile`.
pub fn cmdline_value(cmdline: &str, key: &str) -> Option<String> {
    cmdline
        .split_whitespace()
        .find_map(|arg| arg.strip_prefix(&format!("{key}=")))
        .map(String::from)
}

pub fn run(tty: Option<&Path>) -> Result<()> {
    let cmdline = fs::read_to_string("/proc/cmdline").unwrap_or_default();
    let profile = cmdline_value(&cmdline, "hearth.profile")
        .or_else(|| {
            fs::read_to_string("/usr/share/hearth/default-profile")
                .ok()
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let runner = Runner::new(None, false)?;
    let zfs = match runner.run("modprobe", &["zfs"]) {
        Ok(_) => fs::read_to_string("/sys/module/zfs/version")
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|_| "loaded".into()),
        Err(err) => {
            println!("zfs module: cannot be loaded: {err:#}");
            "missing".into()
        }
    };
    let version = env!("CARGO_PKG_VERSION");
    println!("Hearth installer {version}: live system for profile {profile}");
    println!("zfs module: {zfs}");
    // The kernel's log reaches the serial console even while a getty or the
    // installer owns it: the line the QEMU tests wait for.
    if let Ok(mut kmsg) = OpenOptions::new().write(true).open("/dev/kmsg") {
        let tty = tty.map(|t| t.display().to_string()).unwrap_or_default();
        // One write is one kernel log record.
        let line = format!(
            "<2>HEARTH-LIVE installer={version} zfs={zfs} profile={profile} console={tty}\n"
        );
        let _ = kmsg.write_all(line.as_bytes());
    }
    if cmdline_value(&cmdline, "hearth.mode").as_deref() != Some("shell") {
        println!("Installing from this medium (answer files, interactive setup) is not built yet;");
        println!("a root shell follows for manual work.");
    }
    let err = Command::new("/bin/bash").arg("--login").exec();
    Err(anyhow::anyhow!("starting a shell: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_kernel_arguments() {
        let cmdline = "boot=live hearth.profile=homelab console=ttyS0 hearth.mode=shell";
        assert_eq!(
            cmdline_value(cmdline, "hearth.profile").as_deref(),
            Some("homelab")
        );
        assert_eq!(
            cmdline_value(cmdline, "hearth.mode").as_deref(),
            Some("shell")
        );
        assert_eq!(cmdline_value(cmdline, "hearth.answer"), None);
    }
}
