//! Incus on Debian: initialised at first boot from a preseed that gives it
//! the profile's dataset as its ZFS storage pool and puts guests on the
//! host's bridge (or on a NAT bridge of Incus's own when there is none).

pub mod provision;

use crate::guests;
use crate::keypath::KeyPath;
use crate::profile::{Base, Hypervisor, HypervisorKind, Profile};
use crate::{Context, FirstBootStep, Service, Task};
use hearth_schema::validate::Findings;

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

pub struct IncusHost;

/// The hypervisor section when it asks for Incus.
fn incus(profile: &Profile) -> Option<&Hypervisor> {
    let hypervisor = profile.services.hypervisor.as_ref()?;
    (hypervisor.kind == HypervisorKind::Incus).then_some(hypervisor)
}

impl Service for IncusHost {
    fn packages(&self, profile: &Profile) -> Vec<&'static str> {
        match incus(profile) {
            // Incus starts every VM with -spice, which Debian's QEMU has
            // only with its spice module: without it no VM starts.
            Some(_) => vec![
                "incus",
                "qemu-system-x86",
                "qemu-system-modules-spice",
                "ovmf",
            ],
            None => Vec::new(),
        }
    }

    fn units(&self, profile: &Profile) -> Vec<String> {
        match incus(profile) {
            Some(_) => vec!["incus.service".into()],
            None => Vec::new(),
        }
    }

    fn first_boot(&self, profile: &Profile) -> Vec<FirstBootStep> {
        let Some(hypervisor) = incus(profile) else {
            return Vec::new();
        };
        let bridge = profile.network.bridge.as_deref();
        let mut steps = vec![FirstBootStep::new(
            "incus",
            format!(
                "initialise incus: storage pool on {}, guests on {}",
                hypervisor.dataset,
                bridge.unwrap_or("incusbr0 (NAT)")
            ),
            Task::IncusInit {
                dataset: hypervisor.dataset.clone(),
                preseed: preseed(&hypervisor.dataset, bridge),
            },
        )];
        let local = guests::incus_alias(&profile.suite);
        if hypervisor.containers.iter().any(|g| g.image == local) {
            steps.push(FirstBootStep::new(
                "incus",
                format!("import the ISO's Debian image as {local}"),
                Task::IncusImage {
                    alias: local.clone(),
                    metadata: guests::image_file(guests::METADATA),
                    rootfs: guests::image_file(guests::ROOTFS),
                },
            ));
        }
        steps.extend(guest_steps(hypervisor, &local));
        steps
    }

    fn check(&self, profile: &Profile, ctx: &Context, out: &mut Findings) {
        let Some(hypervisor) = incus(profile) else {
            return;
        };
        let at = KeyPath::root().key("services").key("hypervisor");
        if profile.base == Base::Proxmox {
            out.push(
                at.key("kind"),
                "on base = \"proxmox\" the hypervisor is proxmox; allowed: proxmox",
            );
        }
        guests::check_hypervisor(hypervisor, ctx, &at, out);
    }
}

/// `incus launch` for each container, `incus init --vm` for each VM.
fn guest_steps(hypervisor: &Hypervisor, local: &str) -> Vec<FirstBootStep> {
    let kinds = [(&hypervisor.containers, false), (&hypervisor.vms, true)];
    let mut steps = Vec::new();
    for (list, vm) in kinds {
        for guest in list {
            let verb = if vm {
                "incus init --vm"
            } else {
                "incus launch"
            };
            let args = guests::incus_create_args(guest, vm, local);
            let action = if args.iter().any(|a| a == "--empty") {
                format!(
                    "{verb} {} with an empty disk ({} holds no VM disk)",
                    guest.name, guest.image
                )
            } else {
                format!("{verb} {} from {}", guest.name, guest.image)
            };
            let task = Task::IncusGuest {
                name: guest.name.clone(),
                args,
            };
            steps.push(FirstBootStep::new("incus", action, task));
        }
    }
    steps
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
