//! Time with systemd-timesyncd: the profile's NTP servers, or Debian's
//! pool (timesyncd's fallback) when it names none.

use crate::profile::Profile;
use crate::{File, Service};

pub const CONF: &str = "/etc/systemd/timesyncd.conf.d/10-hearth.conf";

/// Servers are checked as host names or addresses: one word each.
pub fn timesyncd_conf(servers: &[String]) -> String {
    format!(
        "# Written by the Hearth installer from system.ntp.\n[Time]\nNTP={}\n",
        servers.join(" ")
    )
}

pub struct TimeSync;

impl Service for TimeSync {
    fn units(&self, _profile: &Profile) -> Vec<String> {
        vec!["systemd-timesyncd.service".into()]
    }

    fn files(&self, profile: &Profile) -> Vec<File> {
        let servers = &profile.system.ntp;
        if servers.is_empty() {
            return Vec::new();
        }
        vec![File::public(CONF, timesyncd_conf(servers))]
    }
}
