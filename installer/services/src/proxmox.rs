//! Proxmox VE guests: the profile's containers and VMs as `pct create` and
//! `qm create`, on a ZFS storage made from the hypervisor's dataset. The
//! builder's Debian root filesystem becomes a container template, so
//! containers of the local image start offline, as with Incus.

use crate::profile::{Guest, Hypervisor};

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
