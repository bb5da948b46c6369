//! WireGuard (wg0) from the profile. Keys are made on the server at first
//! boot, so none is in the image or in a file written at install time:
//! first boot writes wg0.conf (root only) with the server's key and the
//! generated peers' public keys, and each generated peer gets a client
//! config and QR code. wg0.conf has no PostUp: wg-quick runs those with
//! bash, and no generated file is read by a shell.

pub mod provision;

use std::path::PathBuf;

use crate::profile::{Profile, WireGuard};

use crate::keypath::KeyPath;
use crate::ports::Port;
use crate::Kept;
use crate::{check, Context, File, FirstBootStep, Service, Task};
use hearth_schema::validate::{checks, text, Findings};

pub const CONFIG: &str = "/etc/wireguard/wg0.conf";
/// The server key pair: `wg0.key` and `wg0.pub`.
pub const SERVER_KEY: &str = "/etc/wireguard/wg0";
pub const PEERS: &str = "/etc/wireguard/peers";
pub const SYSCTL: &str = "/etc/sysctl.d/90-hearth-wireguard.conf";
/// Forwarding for the tunnel's address family.
pub fn sysctl_conf(wg: &WireGuard) -> String {
    let forward = if wg.address.contains(':') {
        "net.ipv6.conf.all.forwarding = 1"
    } else {
        "net.ipv4.ip_forward = 1"
    };
    format!("# Written by the Hearth installer: VPN clients are routed to the LAN.\n{forward}\n")
}
/// wg0 comes up once first boot has made its keys.
pub const DROP_IN: &str = "/etc/systemd/system/wg-quick@wg0.service.d/hearth.conf";
pub const DROP_IN_CONF: &str = "# Written by the Hearth installer: the keys are made by hearth-firstboot.\n[Unit]\nWants=hearth-firstboot.service\nAfter=hearth-firstboot.service\n";

/// The key pair path (without .key/.pub) of a peer whose keys Hearth makes.
pub fn peer_key(name: &str) -> PathBuf {
    PathBuf::from(format!("{PEERS}/{name}"))
}

/// wg0.conf without its keys: what the profile says. First boot adds the
/// server's private key and the generated peers ([`complete_conf`]).
pub fn server_conf(wg: &WireGuard) -> String {
    let mut out = format!(
        "# Written by Hearth at first boot from [services.wireguard], with the keys made here.\n\
         [Interface]\n\
         Address = {}\n\
         ListenPort = {}\n",
        wg.address, wg.listen_port
    );
    for peer in &wg.peers {
        if let Some(public) = &peer.public_key {
            out.push_str(&format!(
                "\n# {}\n[Peer]\nPublicKey = {public}\nAllowedIPs = {}\n",
                peer.name, peer.address
            ));
        }
    }
    out
}

/// A generated peer, as first boot adds it to wg0.conf.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct GeneratedPeer {
    pub name: String,
    pub address: String,
}

/// The template with the server's private key and the generated peers'
/// public keys (`keys` in the order of `peers`).
pub fn complete_conf(
    template: &str,
    private: &str,
    peers: &[GeneratedPeer],
    keys: &[String],
) -> String {
    let mut out = String::new();
    for line in template.lines() {
        out.push_str(line);
        out.push('\n');
        if line == "[Interface]" {
            out.push_str(&format!("PrivateKey = {private}\n"));
        }
    }
    for (peer, key) in peers.iter().zip(keys) {
        out.push_str(&format!(
            "\n# {} (keys made by Hearth)\n[Peer]\nPublicKey = {key}\nAllowedIPs = {}\n",
            peer.name, peer.address
        ));
    }
    out
}

/// Where clients dial: the profile's endpoint, else the server's name.
pub fn endpoint(profile: &Profile, wg: &WireGuard) -> String {
    let host = wg
        .endpoint
        .clone()
        .unwrap_or_else(|| format!("{}.{}", profile.system.hostname, profile.system.domain));
    // An IPv6 endpoint is bracketed, or its port would read as an address part.
    if host.parse::<std::net::Ipv6Addr>().is_ok() {
        format!("[{host}]:{}", wg.listen_port)
    } else {
        format!("{host}:{}", wg.listen_port)
    }
}

/// What a client sends through the tunnel: the VPN and the LAN networks.
pub fn client_allowed_ips(profile: &Profile, wg: &WireGuard) -> Vec<String> {
    let mut ips = vec![crate::firewall::network_of(&wg.address)];
    ips.extend(profile.services.firewall.lan.iter().cloned());
    ips
}

/// A client config; the private key is filled in at first boot.
pub fn client_conf(
    private_key: &str,
    address: &str,
    server_public: &str,
    endpoint: &str,
    allowed_ips: &[String],
) -> String {
    format!(
        "# Made by Hearth at first boot. Import it into the WireGuard app,\n\
         # or scan the QR code beside it.\n\
         [Interface]\n\
         PrivateKey = {private_key}\n\
         Address = {address}\n\n\
         [Peer]\n\
         PublicKey = {server_public}\n\
         Endpoint = {endpoint}\n\
         AllowedIPs = {}\n\
         PersistentKeepalive = 25\n",
        allowed_ips.join(", ")
    )
}

/// The WireGuard VPN: the server's and generated peers' keys are made at
/// first boot; forwarding and NAT let peers reach the LAN.
pub struct WireGuardVpn;

impl Service for WireGuardVpn {
    fn kept(&self, profile: &Profile) -> Vec<Kept> {
        match profile.services.wireguard {
            Some(_) => vec![Kept::new(
                "/etc/wireguard",
                "WireGuard keys and peer configs",
            )],
            None => Vec::new(),
        }
    }

    fn packages(&self, profile: &Profile) -> Vec<&'static str> {
        match profile.services.wireguard {
            Some(_) => vec!["wireguard-tools", "qrencode"],
            None => Vec::new(),
        }
    }

    fn units(&self, profile: &Profile) -> Vec<String> {
        match profile.services.wireguard {
            Some(_) => vec!["wg-quick@wg0.service".into()],
            None => Vec::new(),
        }
    }

    fn files(&self, profile: &Profile) -> Vec<File> {
        let Some(wg) = &profile.services.wireguard else {
            return Vec::new();
        };
        vec![
            File::public(SYSCTL, sysctl_conf(wg)),
            File::public(DROP_IN, DROP_IN_CONF),
        ]
    }

    fn ports(&self, profile: &Profile) -> Vec<Port> {
        let Some(wg) = &profile.services.wireguard else {
            return Vec::new();
        };
        vec![Port::udp(
            wg.listen_port,
            "wireguard",
            "services.wireguard.listen-port",
        )]
    }

    fn first_boot(&self, profile: &Profile) -> Vec<FirstBootStep> {
        let Some(wg) = &profile.services.wireguard else {
            return Vec::new();
        };
        let mut steps = vec![FirstBootStep::new(
            "wireguard",
            "generate the server key pair in /etc/wireguard (mode 0600)",
            Task::WireguardKey {
                base: SERVER_KEY.into(),
            },
        )];
        let generated: Vec<_> = wg.peers.iter().filter(|p| p.public_key.is_none()).collect();
        for peer in &generated {
            steps.push(FirstBootStep::new(
                "wireguard",
                format!("generate a key pair for peer {}", peer.name),
                Task::WireguardKey {
                    base: peer_key(&peer.name),
                },
            ));
        }
        steps.push(FirstBootStep::new(
            "wireguard",
            format!("write {CONFIG} (mode 0600) with the server's key and the generated peers"),
            Task::WireguardServer {
                template: server_conf(wg),
                peers: generated
                    .iter()
                    .map(|p| GeneratedPeer {
                        name: p.name.clone(),
                        address: p.address.clone(),
                    })
                    .collect(),
            },
        ));
        for peer in &generated {
            steps.push(FirstBootStep::new(
                "wireguard",
                format!("write the client config and QR code of peer {}", peer.name),
                Task::WireguardClient {
                    name: peer.name.clone(),
                    address: peer.address.clone(),
                    endpoint: endpoint(profile, wg),
                    allowed_ips: client_allowed_ips(profile, wg),
                },
            ));
        }
        steps
    }

    fn check(&self, profile: &Profile, _ctx: &Context, out: &mut Findings) {
        let Some(wg) = &profile.services.wireguard else {
            return;
        };
        let at = KeyPath::root().key("services").key("wireguard");
        if let Some(endpoint) = &wg.endpoint {
            if !text::is_host(endpoint) {
                out.push(
                    at.key("endpoint"),
                    "must be a DNS name, an IPv4 or an IPv6 address (without port or brackets)",
                );
            }
        }
        if !checks::is_cidr(&wg.address) {
            out.push(
                at.key("address"),
                format!(
                    "`{}` is not an address with prefix such as 10.8.0.1/24",
                    wg.address
                ),
            );
        }
        let names = wg.peers.iter().map(|p| p.name.as_str());
        check::unique(out, &at.key("peers"), names, "peer");
        for (i, peer) in wg.peers.iter().enumerate() {
            check_peer(peer, &at.key("peers").index(i), out);
        }
    }
}

fn check_peer(peer: &crate::profile::WireGuardPeer, at: &KeyPath, out: &mut Findings) {
    // The name becomes a file name and a word in wg-quick's PostUp.
    let safe = !peer.name.is_empty()
        && !peer.name.starts_with('.')
        && peer
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if !safe {
        out.push(
            at.key("name"),
            format!(
                "`{}`: use letters, digits, dots, dashes and underscores, not starting with a dot",
                peer.name
            ),
        );
    }
    if !checks::is_cidr(&peer.address) {
        out.push(
            at.key("address"),
            format!(
                "`{}` is not an address with prefix such as 10.8.0.2/32",
                peer.address
            ),
        );
    }
    if let Some(public) = &peer.public_key {
        if !checks::is_wireguard_key(public) {
            out.push(
                at.key("public-key"),
                "not a WireGuard key (44 characters of base64, from `wg pubkey`)",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::WireGuardPeer;

    #[test]
    fn given_keys_are_peers_and_made_keys_are_read_at_startup() {
        let wg = WireGuard {
            listen_port: 51820,
            address: "10.8.0.1/24".into(),
            endpoint: None,
            peers: vec![
                WireGuardPeer {
                    name: "phone".into(),
                    address: "10.8.0.2/32".into(),
                    public_key: None,
                },
                WireGuardPeer {
                    name: "office".into(),
                    address: "10.8.0.3/32".into(),
                    public_key: Some("xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=".into()),
                },
            ],
        };
        let conf = server_conf(&wg);
        assert!(!conf.contains("PostUp"), "nothing for bash to run");
        assert!(conf.contains(
            "[Peer]\nPublicKey = xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=\nAllowedIPs = 10.8.0.3/32\n"
        ));
        assert!(!conf.contains("PrivateKey"), "no key in the plan");
        let phone = GeneratedPeer {
            name: "phone".into(),
            address: "10.8.0.2/32".into(),
        };
        let full = complete_conf(&conf, "PRIVATE", &[phone], &["PHONEPUB".into()]);
        assert!(full.contains("[Interface]\nPrivateKey = PRIVATE\nAddress = 10.8.0.1/24\n"));
        assert!(full.ends_with("[Peer]\nPublicKey = PHONEPUB\nAllowedIPs = 10.8.0.2/32\n"));
    }
}
