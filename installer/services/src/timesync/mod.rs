//! Time with systemd-timesyncd (chrony on a Proxmox base, as Proxmox
//! installs it): the profile's NTP servers, or Debian's pool (the
//! daemon's default) when it names none.

use crate::profile::{Base, Profile};
use crate::{File, Service};

pub const CONF: &str = "/etc/systemd/timesyncd.conf.d/10-hearth.conf";
/// Debian's chrony.conf reads every *.sources file here.
pub const CHRONY_SOURCES: &str = "/etc/chrony/sources.d/hearth.sources";

pub fn chrony_sources(servers: &[String]) -> String {
    let lines: Vec<String> = servers
        .iter()
        .map(|s| format!("server {s} iburst\n"))
        .collect();
    format!(
        "# Written by the Hearth installer from system.ntp.\n{}",
        lines.concat()
    )
}

/// Servers are checked as host names or addresses: one word each.
pub fn timesyncd_conf(servers: &[String]) -> String {
    format!(
        "# Written by the Hearth installer from system.ntp.\n[Time]\nNTP={}\n",
        servers.join(" ")
    )
}

pub struct TimeSync;

impl Service for TimeSync {
    fn units(&self, profile: &Profile) -> Vec<String> {
        match profile.base {
            Base::Debian => vec!["systemd-timesyncd.service".into()],
            Base::Proxmox => vec!["chrony.service".into()],
        }
    }

    fn files(&self, profile: &Profile) -> Vec<File> {
        let servers = &profile.system.ntp;
        if servers.is_empty() {
            return Vec::new();
        }
        match profile.base {
            Base::Debian => vec![File::public(CONF, timesyncd_conf(servers))],
            Base::Proxmox => vec![File::public(CHRONY_SOURCES, chrony_sources(servers))],
        }
    }
}
