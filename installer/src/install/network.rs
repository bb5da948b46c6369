//! The live system's network, brought up when an install needs it (a
//! recovery kit at a URL, a cloud backup to restore): DHCP on every
//! Ethernet interface through systemd-networkd, in /run only.

use std::fs;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use crate::runner::Runner;

const NETWORK: &str = "/run/systemd/network/90-hearth-live.network";
const DHCP: &str = "[Match]\nType=ether\n\n[Network]\nDHCP=yes\n";

/// Returns once there is a default route, or says why not after `wait`.
pub fn up(runner: &Runner, wait: Duration) -> Result<()> {
    if has_route(runner) {
        return Ok(());
    }
    fs::create_dir_all("/run/systemd/network")?;
    fs::write(NETWORK, DHCP)?;
    runner.run("systemctl", &["restart", "systemd-networkd.service"])?;
    let started = Instant::now();
    while started.elapsed() < wait {
        if has_route(runner) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    bail!(
        "no network after {}s of DHCP on every Ethernet interface: the live system cannot reach the kit or the backup",
        wait.as_secs()
    )
}

fn has_route(runner: &Runner) -> bool {
    let (code, out) = runner
        .query("ip", &["route", "show", "default"])
        .unwrap_or((None, String::new()));
    code == Some(0) && !out.trim().is_empty()
}
