//! Docker sets the host's iptables FORWARD policy to DROP, and loads
//! br_netfilter, which sends frames crossing any bridge through that chain:
//! guests on the LAN bridge lose DHCP and everything else, and guests on
//! Incus's NAT bridge lose the way out. Docker's documented remedy is a
//! rule in DOCKER-USER, the chain it keeps across its restarts; this unit
//! puts the rules there after Docker starts and takes them out when it
//! stops, so they never pile up.

use crate::profile::Profile;

pub const UNIT: &str = "hearth-docker-guests.service";

/// Incus's own NAT bridge, where guests go when the host has no bridge.
const INCUS_NAT_BRIDGE: &str = "incusbr0";

/// The DOCKER-USER rules that let guests' traffic through; none when Docker
/// is off or no guest bridge exists.
pub fn rules(profile: &Profile) -> Vec<String> {
    if profile.services.docker.is_none() {
        return Vec::new();
    }
    if let Some(bridge) = &profile.network.bridge {
        return vec![format!("-i {bridge} -o {bridge} -j ACCEPT")];
    }
    if profile.services.hypervisor.is_some() {
        let nat = INCUS_NAT_BRIDGE;
        return vec![
            format!("-i {nat} -j ACCEPT"),
            format!("-o {nat} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"),
        ];
    }
    Vec::new()
}

/// The unit, when there are rules to place.
pub fn unit(profile: &Profile) -> Option<String> {
    let rules = rules(profile);
    if rules.is_empty() {
        return None;
    }
    let start: String = rules
        .iter()
        .map(|r| format!("ExecStart=/usr/sbin/iptables -I DOCKER-USER {r}\n"))
        .collect();
    let stop: String = rules
        .iter()
        .map(|r| format!("ExecStop=-/usr/sbin/iptables -D DOCKER-USER {r}\n"))
        .collect();
    Some(format!(
        "# Written by the Hearth installer: guests' traffic passes Docker's\n\
         # FORWARD policy (see Docker's \"Docker on a router\").\n\
         [Unit]\n\
         Description=Let guests' bridged traffic pass Docker's firewall (Hearth)\n\
         After=docker.service\n\
         PartOf=docker.service\n\
         Before=incus-startup.service\n\n\
         [Service]\n\
         Type=oneshot\n\
         RemainAfterExit=yes\n\
         {start}{stop}\n\
         [Install]\n\
         WantedBy=docker.service\n"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hypervisor() -> Profile {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../profiles/hypervisor.toml"
        );
        crate::load_profile(std::path::Path::new(path))
            .expect("the hypervisor profile loads")
            .value
    }

    #[test]
    fn a_host_bridge_passes_its_own_frames_while_docker_runs() {
        let mut profile = hypervisor();
        profile.network.bridge = Some("lan0".into());
        let unit = unit(&profile).expect("a unit");
        let rule = "DOCKER-USER -i lan0 -o lan0 -j ACCEPT\n";
        assert!(unit.contains(&format!("ExecStart=/usr/sbin/iptables -I {rule}")));
        assert!(unit.contains(&format!("ExecStop=-/usr/sbin/iptables -D {rule}")));
        assert!(unit.contains("PartOf=docker.service\n"));
    }

    #[test]
    fn incus_nat_guests_get_out_and_answers_come_back() {
        let mut profile = hypervisor();
        profile.network.bridge = None;
        let rules = rules(&profile);
        assert_eq!(rules.len(), 2, "{rules:?}");
        assert!(rules[0].starts_with("-i incusbr0 "));
        assert!(rules[1].contains("--ctstate RELATED,ESTABLISHED"));
    }

    #[test]
    fn without_docker_nothing_is_placed() {
        let mut profile = hypervisor();
        profile.services.docker = None;
        assert!(unit(&profile).is_none());
    }
}
