use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The server's LAN connection.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Network {
    /// Which NIC: "first-with-link", "name:<glob>" (e.g. "name:eno*") or
    /// "mac:<address>".
    #[serde(default = "first_with_link")]
    pub interface: String,
    #[serde(default)]
    pub addressing: Addressing,
    /// Static address with prefix, e.g. "192.168.1.10/24".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    #[serde(default)]
    pub dns: Vec<String>,
    /// Name of a bridge over the NIC that guests (containers, VMs) join;
    /// the host's address moves onto it. Empty: no bridge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge: Option<String>,
    /// Name every Ethernet NIC by its MAC address (nic0, nic1, ... in the
    /// order of the names the installer saw), with systemd .link files, so
    /// that the names stay when cards are added or the firmware renumbers
    /// its buses.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pin_names: bool,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Addressing {
    #[default]
    Dhcp,
    Static,
}

/// Which NIC the network settings are for, as the profile's `interface` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NicMatch {
    /// Chosen at install time: the first NIC with carrier.
    FirstWithLink,
    /// Interface names matching a glob, e.g. "eno*".
    Name(String),
    Mac(String),
}

impl Network {
    /// The NIC match of `interface` (checked by `validate` when loaded).
    pub fn nic(&self) -> NicMatch {
        match self.interface.split_once(':') {
            Some(("name", glob)) => NicMatch::Name(glob.to_string()),
            Some(("mac", mac)) => NicMatch::Mac(mac.to_string()),
            _ => NicMatch::FirstWithLink,
        }
    }
}

impl Default for Network {
    fn default() -> Self {
        Network {
            interface: first_with_link(),
            addressing: Addressing::Dhcp,
            address: None,
            gateway: None,
            dns: Vec::new(),
            bridge: None,
            pin_names: false,
        }
    }
}

fn first_with_link() -> String {
    "first-with-link".into()
}
