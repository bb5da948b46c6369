//! Proxmox VE guests: the profile's containers and VMs as `pct create` and
//! `qm create`, on a ZFS storage made from the hypervisor's dataset. The
//! builder's Debian root filesystem becomes a container template, so
//! containers of the local image start offline, as with Incus.

pub mod provision;

use crate::profile::{Guest, Hypervisor};

use crate::keypath::KeyPath;
use crate::ports::Port;
use crate::profile::{Base, HypervisorKind, Profile};
use crate::{guests, Context, FirstBootStep, Service, Task};
use hearth_schema::validate::Findings;

/// The storage `pvesm add zfspool` makes from the hypervisor's dataset.
pub const STORAGE: &str = "hearth";
/// Where Proxmox keeps container templates (storage `local`).
pub const TEMPLATES: &str = "/var/lib/vz/template/cache";
/// Guests are numbered from here, containers first, in profile order.
pub const FIRST_ID: u32 = 100;

pub fn template_name(release: &str) -> String {
    format!("hearth-debian-{release}_amd64.tar.gz")
}

/// `pvesm add` arguments for the storage.
pub fn storage_args(hypervisor: &Hypervisor) -> Vec<String> {
    [
        "add",
        "zfspool",
        STORAGE,
        "--pool",
        &hypervisor.dataset,
        "--content",
        "images,rootdir",
        "--sparse",
        "1",
    ]
    .map(String::from)
    .to_vec()
}

fn gib(bytes: u64) -> u64 {
    bytes.div_ceil(1024 * crate::size::MIB).max(1)
}

fn common(guest: &Guest) -> Vec<String> {
    vec![
        "--cores".into(),
        guest.cpus.to_string(),
        "--memory".into(),
        (guest.memory.0 / crate::size::MIB).to_string(),
        "--onboot".into(),
        u8::from(guest.autostart).to_string(),
    ]
}

/// `pct create <id> ...`: the local image's template, or the profile's
/// template as Proxmox names it (e.g. local:vztmpl/debian-13-standard_...).
pub fn container_args(
    id: u32,
    guest: &Guest,
    local_alias: &str,
    release: &str,
    bridge: &str,
) -> Vec<String> {
    let template = if guest.image == local_alias {
        format!("local:vztmpl/{}", template_name(release))
    } else {
        guest.image.clone()
    };
    let disk = guest.disk.map_or(8, |d| gib(d.0));
    let mut args = vec![
        "create".into(),
        id.to_string(),
        template,
        "--hostname".into(),
        guest.name.clone(),
        "--unprivileged".into(),
        "1".into(),
        "--rootfs".into(),
        format!("{STORAGE}:{disk}"),
        "--net0".into(),
        format!("name=eth0,bridge={bridge},ip=dhcp"),
    ];
    args.extend(common(guest));
    args.extend(["--start".into(), u8::from(guest.autostart).to_string()]);
    args
}

/// `qm create <id> ...`: an empty disk on the storage, installed from an ISO.
pub fn vm_args(id: u32, guest: &Guest, bridge: &str) -> Vec<String> {
    let disk = guest.disk.map_or(32, |d| gib(d.0));
    let mut args = vec![
        "create".into(),
        id.to_string(),
        "--name".into(),
        guest.name.clone(),
        "--ostype".into(),
        "l26".into(),
        "--scsihw".into(),
        "virtio-scsi-single".into(),
        "--scsi0".into(),
        format!("{STORAGE}:{disk}"),
        "--net0".into(),
        format!("virtio,bridge={bridge}"),
    ];
    args.extend(common(guest));
    args
}

pub struct ProxmoxHost;

/// The hypervisor section when it asks for Proxmox VE.
fn proxmox(profile: &Profile) -> Option<&Hypervisor> {
    let hypervisor = profile.services.hypervisor.as_ref()?;
    (hypervisor.kind == HypervisorKind::Proxmox).then_some(hypervisor)
}

/// The web UI (pveproxy), the SPICE proxy and corosync's cluster links:
/// what a Proxmox node serves its LAN.
pub const WEB_UI: u16 = 8006;
const SPICE_PROXY: u16 = 3128;
const COROSYNC: std::ops::RangeInclusive<u16> = 5405..=5412;

impl Service for ProxmoxHost {
    fn units(&self, profile: &Profile) -> Vec<String> {
        match profile.base {
            Base::Proxmox => vec!["pve-cluster.service".into(), "pveproxy.service".into()],
            Base::Debian => Vec::new(),
        }
    }

    fn ports(&self, profile: &Profile) -> Vec<Port> {
        if profile.base != Base::Proxmox {
            return Vec::new();
        }
        let mut ports = vec![
            Port::tcp(WEB_UI, "proxmox web UI", "base"),
            Port::tcp(SPICE_PROXY, "proxmox spice proxy", "base"),
        ];
        ports.extend(COROSYNC.map(|n| Port::udp(n, "proxmox corosync", "base")));
        ports
    }

    fn first_boot(&self, profile: &Profile) -> Vec<FirstBootStep> {
        match proxmox(profile) {
            Some(hypervisor) => steps(profile, hypervisor),
            None => Vec::new(),
        }
    }

    fn check(&self, profile: &Profile, ctx: &Context, out: &mut Findings) {
        let firewall = &profile.services.firewall;
        if profile.base == Base::Proxmox && firewall.enabled && firewall.lan.is_empty() {
            out.push(
                KeyPath::root().key("services").key("firewall").key("lan"),
                "base = \"proxmox\" opens the web UI (8006) and the cluster ports to the LAN only: name the LAN's networks, e.g. lan = [\"192.168.1.0/24\"]",
            );
        }
        let Some(hypervisor) = proxmox(profile) else {
            return;
        };
        let at = KeyPath::root().key("services").key("hypervisor");
        if profile.base == Base::Debian {
            out.push(
                at.key("kind"),
                "proxmox needs base = \"proxmox\"; on Debian, allowed: incus",
            );
        }
        guests::check_hypervisor(hypervisor, ctx, &at, out);
    }
}

/// The storage, the ISO's image as a container template, and each guest as
/// `pct create`/`qm create`, numbered from 100.
fn steps(profile: &Profile, hypervisor: &Hypervisor) -> Vec<FirstBootStep> {
    let bridge = profile.network.bridge.as_deref().unwrap_or("vmbr0");
    let local = guests::incus_alias(&profile.suite);
    let release = guests::release(&profile.suite);
    let mut steps = vec![FirstBootStep::new(
        "proxmox",
        format!("add ZFS storage {STORAGE} on {}", hypervisor.dataset),
        Task::ProxmoxStorage {
            name: STORAGE.into(),
            args: storage_args(hypervisor),
        },
    )];
    if hypervisor.containers.iter().any(|g| g.image == local) {
        let to = std::path::Path::new(TEMPLATES).join(template_name(release));
        steps.push(FirstBootStep::new(
            "proxmox",
            format!("lay in the ISO's Debian image as template {}", to.display()),
            Task::CopyFile {
                from: guests::image_file(guests::ROOTFS),
                to,
            },
        ));
    }
    let mut id = FIRST_ID;
    for guest in &hypervisor.containers {
        steps.push(FirstBootStep::new(
            "proxmox",
            format!("pct create {id} ({}) from {}", guest.name, guest.image),
            Task::ProxmoxGuest {
                tool: "pct".into(),
                id,
                args: container_args(id, guest, &local, release, bridge),
            },
        ));
        id += 1;
    }
    for guest in &hypervisor.vms {
        steps.push(FirstBootStep::new(
            "proxmox",
            format!("qm create {id} ({}) with an empty disk", guest.name),
            Task::ProxmoxGuest {
                tool: "qm".into(),
                id,
                args: vm_args(id, guest, bridge),
            },
        ));
        id += 1;
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::size::{Bytes, MIB};

    fn guest() -> Guest {
        Guest {
            name: "debian".into(),
            image: "debian/13".into(),
            cpus: 2,
            memory: Bytes(512 * MIB),
            disk: None,
            autostart: true,
        }
    }

    #[test]
    fn a_container_of_the_local_image_uses_the_isos_template() {
        let args = container_args(100, &guest(), "debian/13", "13", "vmbr0").join(" ");
        assert_eq!(
            args,
            "create 100 local:vztmpl/hearth-debian-13_amd64.tar.gz --hostname debian --unprivileged 1 \
             --rootfs hearth:8 --net0 name=eth0,bridge=vmbr0,ip=dhcp --cores 2 --memory 512 --onboot 1 --start 1"
        );
    }

    #[test]
    fn a_vm_gets_an_empty_disk_of_the_profiles_size() {
        let mut vm = guest();
        vm.disk = Some(Bytes(8192 * MIB));
        vm.autostart = false;
        let args = vm_args(101, &vm, "vmbr0").join(" ");
        assert!(args.contains("--scsi0 hearth:8 "), "{args}");
        assert!(args.ends_with("--onboot 0"), "{args}");
    }
}
