//! The live system's network, brought up when an install needs it (an
//! answer at a URL, a recovery kit at a URL, a cloud backup to restore):
//! `ip=` from the kernel command line as the kernel and dracut spell it
//! (systemd-network-generator turns it into .network files), DHCP and IPv6
//! router advertisements on every other Ethernet interface, all through
//! systemd-networkd, in /run only.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use crate::console::mark;
use crate::runner::Runner;

const NETWORK: &str = "/run/systemd/network/90-hearth-live.network";
const DHCP: &str = "[Match]\nType=ether\n\n[Network]\nDHCP=yes\nIPv6AcceptRA=yes\n";
const GENERATOR: &str = "/usr/lib/systemd/systemd-network-generator";

/// Returns once there is a default route (IPv4 or IPv6), or says why not
/// after `wait`.
pub fn up(runner: &Runner, wait: Duration) -> Result<()> {
    if has_route(runner) {
        return Ok(());
    }
    fs::create_dir_all("/run/systemd/network")?;
    fs::write(NETWORK, DHCP)?;
    if Path::new(GENERATOR).exists() {
        runner.run(GENERATOR, &[])?;
    }
    runner.run("systemctl", &["restart", "systemd-networkd.service"])?;
    let started = Instant::now();
    while started.elapsed() < wait {
        if has_route(runner) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    bail!(
        "no network after {}s (ip= from the kernel command line, DHCP and IPv6 on every Ethernet interface)",
        wait.as_secs()
    )
}

fn has_route(runner: &Runner) -> bool {
    ["-4", "-6"].iter().any(|family| {
        let (code, out) = runner
            .query("ip", &[family, "route", "show", "default"])
            .unwrap_or((None, String::new()));
        code == Some(0) && !out.trim().is_empty()
    })
}

/// Each interface's global addresses on both consoles, so a person can
/// find the machine (and its ssh) on the network.
pub fn show(runner: &Runner) {
    let Ok((Some(0), json)) = runner.query("ip", &["-j", "address", "show", "scope", "global"])
    else {
        return;
    };
    for line in addresses(&json) {
        println!("network: {line}");
        mark(&format!("HEARTH-NETWORK {line}"));
    }
}

/// `name addr/prefix ...` per interface with a global address, from `ip -j`.
fn addresses(json: &str) -> Vec<String> {
    let Ok(links) = serde_json::from_str::<Vec<serde_json::Value>>(json) else {
        return Vec::new();
    };
    links
        .iter()
        .filter_map(|link| {
            let name = link.get("ifname")?.as_str()?;
            let addrs: Vec<String> = link
                .get("addr_info")?
                .as_array()?
                .iter()
                .filter_map(|a| {
                    Some(format!(
                        "{}/{}",
                        a.get("local")?.as_str()?,
                        a.get("prefixlen")?
                    ))
                })
                .collect();
            (!addrs.is_empty()).then(|| format!("{name} {}", addrs.join(" ")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_read_from_ip_json() {
        let json = r#"[{"ifindex":2,"ifname":"enp0s2","addr_info":[{"family":"inet","local":"10.0.2.15","prefixlen":24},{"family":"inet6","local":"fec0::5054:ff:fe12:3456","prefixlen":64}]},{"ifindex":3,"ifname":"enp0s3","addr_info":[]}]"#;
        assert_eq!(
            addresses(json),
            vec!["enp0s2 10.0.2.15/24 fec0::5054:ff:fe12:3456/64"]
        );
    }
}
