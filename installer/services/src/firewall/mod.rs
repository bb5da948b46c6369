//! /etc/nftables.conf from the profile: inbound default deny, open for ssh
//! and the WireGuard endpoint from anywhere, and for the enabled services'
//! ports from the LAN networks (and the VPN). Forwarding is left to Docker
//! and Incus, which keep their own tables; only VPN clients are masqueraded.

use std::collections::BTreeSet;

use crate::keypath::KeyPath;
use crate::ports::{Port, Proto};
use crate::profile::{GuiBind, Profile};
use crate::{Context, File, Service};
use hearth_schema::validate::Findings;

pub const PATH: &str = "/etc/nftables.conf";

/// Debian's nftables.service flushes the whole ruleset when stopped, which
/// would take Docker's and Incus's tables with it; Hearth's stop removes
/// only its own table.
pub const DROP_IN: &str = "/etc/systemd/system/nftables.service.d/hearth.conf";
pub const STOP_DROP_IN: &str = "# Written by the Hearth installer: stop removes only Hearth's table.\n[Service]\nExecStop=\nExecStop=/usr/sbin/nft delete table inet hearth\n";

/// Ports anyone may reach: the admin's way in and the VPN's.
fn public(port: &Port) -> bool {
    port.owner == "ssh" || port.owner == "wireguard"
}

/// The ports the firewall opens, split into (public, LAN only).
fn open_ports(profile: &Profile) -> (Vec<Port>, Vec<Port>) {
    let s = &profile.services;
    let local_gui = s
        .syncthing
        .as_ref()
        .is_some_and(|sync| sync.gui == GuiBind::Localhost);
    let mut ports: Vec<Port> = crate::listening(profile)
        .into_iter()
        // A GUI bound to localhost has nothing to open.
        .filter(|p| !(local_gui && p.key.ends_with(".gui-port")))
        .collect();
    let extra = |proto, number: &u16| Port {
        proto,
        number: *number,
        owner: "firewall".into(),
        key: "services.firewall".into(),
    };
    ports.extend(s.firewall.tcp.iter().map(|n| extra(Proto::Tcp, n)));
    ports.extend(s.firewall.udp.iter().map(|n| extra(Proto::Udp, n)));
    if s.samba
        .as_ref()
        .is_some_and(|samba| samba.shares.iter().any(|share| share.time_machine))
    {
        // Macs find Time Machine shares by mDNS (avahi).
        ports.push(Port {
            proto: Proto::Udp,
            number: 5353,
            owner: "avahi".into(),
            key: "services.samba.shares".into(),
        });
    }
    if s.syncthing.is_some() {
        // Local discovery between Syncthing devices.
        ports.push(Port {
            proto: Proto::Udp,
            number: 21027,
            owner: "syncthing".into(),
            key: "services.syncthing".into(),
        });
    }
    ports.into_iter().partition(public)
}

/// `{ 22, 445 }` or `22` for nft.
fn set_of(numbers: &BTreeSet<u16>) -> String {
    let list: Vec<String> = numbers.iter().map(u16::to_string).collect();
    if list.len() == 1 {
        list[0].clone()
    } else {
        format!("{{ {} }}", list.join(", "))
    }
}

/// One `accept` line per protocol for `ports`, after `prefix` (a match on
/// where the packet comes from, or nothing).
fn accepts(out: &mut String, prefix: &str, ports: &[Port]) {
    for proto in [Proto::Tcp, Proto::Udp] {
        let numbers: BTreeSet<u16> = ports
            .iter()
            .filter(|p| p.proto == proto)
            .map(|p| p.number)
            .collect();
        if numbers.is_empty() {
            continue;
        }
        let owners: BTreeSet<&str> = ports
            .iter()
            .filter(|p| p.proto == proto)
            .map(|p| p.owner.as_str())
            .collect();
        let owners: Vec<&str> = owners.into_iter().collect();
        out.push_str(&format!(
            "\t\t{prefix}{proto} dport {} accept comment \"{}\"\n",
            set_of(&numbers),
            owners.join(", ")
        ));
    }
}

pub fn nftables_conf(profile: &Profile) -> String {
    let firewall = &profile.services.firewall;
    let (public, lan) = open_ports(profile);
    let (lan6, lan4): (Vec<&String>, Vec<&String>) =
        firewall.lan.iter().partition(|net| net.contains(':'));
    let vpn = profile
        .services
        .wireguard
        .as_ref()
        .map(|wg| network_of(&wg.address));
    let mut out = String::from(
        "#!/usr/sbin/nft -f\n\
         # Written by the Hearth installer from the profile's [services.firewall].\n\
         # Only Hearth's own table is replaced: Docker's and Incus's stay.\n\
         table inet hearth\n\
         delete table inet hearth\n\n\
         table inet hearth {\n",
    );
    // auto-merge: overlapping networks (10.0.0.0/8 and 0.0.0.0/0) would
    // otherwise make nft refuse the whole ruleset.
    for (name, kind, nets) in [("lan4", "ipv4_addr", &lan4), ("lan6", "ipv6_addr", &lan6)] {
        if !nets.is_empty() {
            let elements: Vec<&str> = nets.iter().map(|n| n.as_str()).collect();
            out.push_str(&format!(
                "\tset {name} {{\n\t\ttype {kind}\n\t\tflags interval\n\t\tauto-merge\n\t\telements = {{ {} }}\n\t}}\n\n",
                elements.join(", ")
            ));
        }
    }
    out.push_str(
        "\tchain input {\n\
         \t\ttype filter hook input priority filter; policy drop;\n\
         \t\tct state established,related accept\n\
         \t\tct state invalid drop\n\
         \t\tiif \"lo\" accept\n\
         \t\tmeta l4proto { icmp, ipv6-icmp } accept\n\
         \t\tudp dport { 68, 546 } accept comment \"DHCP and DHCPv6 replies\"\n",
    );
    accepts(&mut out, "", &public);
    if firewall.lan.is_empty() {
        accepts(&mut out, "", &lan);
    } else {
        if !lan4.is_empty() {
            accepts(&mut out, "ip saddr @lan4 ", &lan);
        }
        if !lan6.is_empty() {
            accepts(&mut out, "ip6 saddr @lan6 ", &lan);
        }
    }
    if vpn.is_some() {
        accepts(&mut out, "iifname \"wg0\" ", &lan);
    }
    // Refused, not dropped: a client on the LAN learns at once that the port is closed.
    out.push_str(
        "\t\tmeta l4proto tcp reject with tcp reset\n\
         \t\treject with icmpx admin-prohibited\n\
         \t}\n",
    );
    if let Some(vpn) = vpn {
        out.push_str(&format!(
            "\n\t# VPN clients reach the LAN and the internet through this host.\n\
             \tchain postrouting {{\n\
             \t\ttype nat hook postrouting priority srcnat; policy accept;\n\
             \t\t{} {vpn} oifname != \"wg0\" masquerade\n\
             \t}}\n",
            saddr(&vpn)
        ));
    }
    out.push_str("}\n");
    out
}

/// "10.8.0.1/24" -> "10.8.0.0/24", "fd00::1/64" -> "fd00::/64": nft
/// refuses a prefix with host bits set.
pub fn network_of(address: &str) -> String {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    let Some((ip, prefix)) = address.split_once('/') else {
        return address.to_string();
    };
    let Ok(bits) = prefix.parse::<u32>() else {
        return address.to_string();
    };
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            format!("{}/{bits}", Ipv4Addr::from(u32::from(ip) & mask))
        }
        Ok(IpAddr::V6(ip)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            format!("{}/{bits}", Ipv6Addr::from(u128::from(ip) & mask))
        }
        _ => address.to_string(),
    }
}

/// nft's match on a source address of the family of `net`.
pub fn saddr(net: &str) -> &'static str {
    if net.contains(':') {
        "ip6 saddr"
    } else {
        "ip saddr"
    }
}

/// nftables: inbound default deny, each service's ports opened to the
/// world or the LAN as the profile says.
pub struct NftFirewall;

impl Service for NftFirewall {
    fn packages(&self, profile: &Profile) -> Vec<&'static str> {
        match profile.services.firewall.enabled {
            true => vec!["nftables"],
            false => Vec::new(),
        }
    }

    fn units(&self, profile: &Profile) -> Vec<String> {
        match profile.services.firewall.enabled {
            true => vec!["nftables.service".into()],
            false => Vec::new(),
        }
    }

    fn files(&self, profile: &Profile) -> Vec<File> {
        if !profile.services.firewall.enabled {
            return Vec::new();
        }
        vec![
            File::public(PATH, nftables_conf(profile)),
            File::public(DROP_IN, STOP_DROP_IN),
        ]
    }

    fn check(&self, profile: &Profile, _ctx: &Context, out: &mut Findings) {
        let top = KeyPath::root().key("services").key("firewall");
        let firewall = &profile.services.firewall;
        for (name, ports) in [("tcp", &firewall.tcp), ("udp", &firewall.udp)] {
            for (i, port) in ports.iter().enumerate() {
                if *port == 0 {
                    out.push(
                        top.key(name).index(i),
                        "0 is not a port; allowed: 1 to 65535",
                    );
                }
            }
        }
        let at = top.key("lan");
        for (i, net) in profile.services.firewall.lan.iter().enumerate() {
            if !hearth_schema::validate::is_cidr(net) {
                out.push(
                    at.index(i),
                    format!(
                        "`{}` is not a network such as 192.168.1.0/24 or fd00::/64",
                        net.escape_debug()
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vpn_network_drops_host_bits() {
        assert_eq!(network_of("10.8.0.1/24"), "10.8.0.0/24");
        assert_eq!(network_of("192.168.7.77/16"), "192.168.0.0/16");
        assert_eq!(network_of("10.8.0.1/32"), "10.8.0.1/32");
        assert_eq!(network_of("10.8.0.1/0"), "0.0.0.0/0");
        assert_eq!(network_of("fd00:8::1/64"), "fd00:8::/64");
    }

    #[test]
    fn one_port_is_not_a_set() {
        assert_eq!(set_of(&BTreeSet::from([22])), "22");
        assert_eq!(set_of(&BTreeSet::from([445, 22])), "{ 22, 445 }");
    }
}
