//! The ports each enabled service listens on: for collision checks and the firewall.

use std::fmt;

use serde::Serialize;

use crate::profile::Profile;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Port {
    pub proto: Proto,
    pub number: u16,
    /// Who listens, e.g. "samba" or "docker app nextcloud".
    pub owner: String,
    /// The profile key that set it, for messages.
    pub key: String,
}

/// Syncthing's sync protocol port for the i-th user (each instance needs its own).
pub fn syncthing_sync_port(index: usize) -> u16 {
    22000 + index as u16
}

pub fn listening(profile: &Profile) -> Vec<Port> {
    let mut ports = Vec::new();
    let mut add = |proto, number, owner: &str, key: String| {
        ports.push(Port {
            proto,
            number,
            owner: owner.to_string(),
            key,
        });
    };
    let s = &profile.services;
    add(Proto::Tcp, s.ssh.port, "ssh", "services.ssh.port".into());
    if s.samba.is_some() {
        add(Proto::Tcp, 445, "samba", "services.samba".into());
    }
    if s.nfs.is_some() {
        use crate::nfs::{LOCKD_PORT, MOUNTD_PORT, STATD_PORT};
        add(Proto::Tcp, 2049, "nfs", "services.nfs".into());
        for port in [111, MOUNTD_PORT, STATD_PORT, LOCKD_PORT] {
            add(Proto::Tcp, port, "nfs", "services.nfs".into());
            add(Proto::Udp, port, "nfs", "services.nfs".into());
        }
    }
    if let Some(docker) = &s.docker {
        for (i, app) in docker.apps.iter().enumerate() {
            for (j, port) in app.ports.iter().enumerate() {
                let owner = format!("docker app {}", app.name);
                add(
                    Proto::Tcp,
                    *port,
                    &owner,
                    format!("services.docker.apps[{i}].ports[{j}]"),
                );
            }
        }
    }
    if let Some(wg) = &s.wireguard {
        add(
            Proto::Udp,
            wg.listen_port,
            "wireguard",
            "services.wireguard.listen-port".into(),
        );
    }
    if let Some(syncthing) = &s.syncthing {
        for (i, user) in syncthing.users.iter().enumerate() {
            let owner = format!("syncthing of {}", user.name);
            add(
                Proto::Tcp,
                user.gui_port,
                &owner,
                format!("services.syncthing.users[{i}].gui-port"),
            );
            let sync = syncthing_sync_port(i);
            add(
                Proto::Tcp,
                sync,
                &owner,
                format!("services.syncthing.users[{i}]"),
            );
            add(
                Proto::Udp,
                sync,
                &owner,
                format!("services.syncthing.users[{i}]"),
            );
        }
    }
    if let Some(rest) = s
        .backup_target
        .as_ref()
        .and_then(|t| t.rest_server.as_ref())
    {
        add(
            Proto::Tcp,
            rest.port,
            "rest-server",
            "services.backup-target.rest-server.port".into(),
        );
    }
    ports
}
