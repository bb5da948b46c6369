//! Incus on Debian: initialised at first boot from a preseed that gives it
//! the profile's dataset as its ZFS storage pool and puts guests on the
//! host's bridge (or on a NAT bridge of Incus's own when there is none).

/// The preseed for `incus admin init --preseed`.
pub fn preseed(dataset: &str, bridge: Option<&str>) -> String {
    let (networks, nic) = match bridge {
        Some(bridge) => (
            String::new(),
            format!("    eth0:\n      name: eth0\n      nictype: bridged\n      parent: {bridge}\n      type: nic\n"),
        ),
        None => (
            "networks:\n- name: incusbr0\n  type: bridge\n  config:\n    ipv4.address: auto\n    ipv6.address: auto\n".to_string(),
            "    eth0:\n      name: eth0\n      network: incusbr0\n      type: nic\n".to_string(),
        ),
    };
    format!(
        "# Made by Hearth from [services.hypervisor].\n\
         {networks}\
         storage_pools:\n\
         - name: default\n  driver: zfs\n  config:\n    source: {dataset}\n\
         profiles:\n\
         - name: default\n  devices:\n    root:\n      path: /\n      pool: default\n      type: disk\n\
         {nic}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guests_join_the_hosts_bridge_and_live_on_the_dataset() {
        let yaml = preseed("tank/incus", Some("br0"));
        assert!(yaml.contains("  driver: zfs\n  config:\n    source: tank/incus\n"));
        assert!(yaml.contains("      nictype: bridged\n      parent: br0\n"));
        assert!(!yaml.contains("networks:"));
        let own = preseed("tank/incus", None);
        assert!(own.contains("networks:\n- name: incusbr0\n"));
        assert!(own.contains("      network: incusbr0\n"));
    }
}
