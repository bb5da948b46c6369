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
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Addressing {
    #[default]
    Dhcp,
    Static,
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
        }
    }
}

fn first_with_link() -> String {
    "first-with-link".into()
}
