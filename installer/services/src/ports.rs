//! A port a service listens on: for collision checks and the firewall.

use std::fmt;

use serde::Serialize;

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

impl Port {
    pub fn tcp(number: u16, owner: &str, key: impl Into<String>) -> Port {
        Port::new(Proto::Tcp, number, owner, key)
    }

    pub fn udp(number: u16, owner: &str, key: impl Into<String>) -> Port {
        Port::new(Proto::Udp, number, owner, key)
    }

    fn new(proto: Proto, number: u16, owner: &str, key: impl Into<String>) -> Port {
        Port {
            proto,
            number,
            owner: owner.into(),
            key: key.into(),
        }
    }
}
