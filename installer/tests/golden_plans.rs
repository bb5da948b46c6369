//! Every shipped profile planned over every fixture machine, pinned as the
//! human preview and as JSON. A profile that cannot fit a machine pins its
//! error messages instead.

mod common;

use std::path::Path;

use hearth_installer::plan::{drift, render, Plan};
use hearth_installer::prepare::{plan_from_files, read_inventory};

fn check(profile: &str, machine: &str) {
    let dir = Path::new("tests/fixtures/machines").join(machine);
    let inventory = read_inventory(&dir.join("inventory.json")).expect("fixture inventory");
    // Shipped profiles, and fixtures for what cannot ship (Proxmox's key hash).
    let shipped = Path::new("../profiles").join(format!("{profile}.toml"));
    let profile_path = if shipped.exists() {
        shipped
    } else {
        Path::new("tests/fixtures/profiles").join(format!("{profile}.toml"))
    };
    let golden = Path::new("tests/golden/plans").join(format!("{profile}--{machine}"));
    match plan_from_files(&profile_path, Some(&dir.join("answer.toml")), &inventory) {
        Ok(plan) => {
            common::golden(golden.with_extension("txt"), &render(&plan));
            let json = serde_json::to_string_pretty(&plan).expect("plan as JSON") + "\n";
            common::golden(golden.with_extension("json"), &json);
            // A confirmed plan is saved, read back by `install --plan` and
            // saved again into the target: the bytes must not change.
            let read: Plan = serde_json::from_str(&json).expect("the plan reads back");
            assert_eq!(read, plan);
            let again = serde_json::to_string_pretty(&read).expect("plan as JSON") + "\n";
            assert_eq!(again, json, "plan JSON does not survive a round trip");
            assert!(
                drift(&plan, &inventory).is_empty(),
                "{:?}",
                drift(&plan, &inventory)
            );
            assert!(
                !golden.with_extension("err").exists(),
                "stale {}.err",
                golden.display()
            );
        }
        Err(problems) => {
            common::golden(golden.with_extension("err"), &format!("{problems}\n"));
            assert!(
                !golden.with_extension("txt").exists(),
                "stale {}.txt",
                golden.display()
            );
        }
    }
}

macro_rules! golden_plans {
    ($($name:ident: $profile:literal on $machine:literal;)*) => {
        $(
            #[test]
            fn $name() {
                check($profile, $machine);
            }
        )*
    };
}

golden_plans! {
    proxmox_ssd2_hdd4: "proxmox" on "ssd2-hdd4";
    homelab_one_disk: "homelab" on "one-disk";
    homelab_ssd2_hdd4: "homelab" on "ssd2-hdd4";
    homelab_mixed6_pool: "homelab" on "mixed6-pool";
    homelab_usb_stick: "homelab" on "usb-stick";
    homelab_4kn: "homelab" on "4kn";
    homelab_reprovision: "homelab" on "reprovision";
    homelab_total_loss: "homelab" on "total-loss";
    nas_one_disk: "nas" on "one-disk";
    nas_ssd2_hdd4: "nas" on "ssd2-hdd4";
    nas_mixed6_pool: "nas" on "mixed6-pool";
    nas_usb_stick: "nas" on "usb-stick";
    nas_4kn: "nas" on "4kn";
    nas_reprovision: "nas" on "reprovision";
    hypervisor_one_disk: "hypervisor" on "one-disk";
    hypervisor_ssd2_hdd4: "hypervisor" on "ssd2-hdd4";
    hypervisor_mixed6_pool: "hypervisor" on "mixed6-pool";
    hypervisor_usb_stick: "hypervisor" on "usb-stick";
    hypervisor_4kn: "hypervisor" on "4kn";
    hypervisor_reprovision: "hypervisor" on "reprovision";
    backup_target_one_disk: "backup-target" on "one-disk";
    backup_target_ssd2_hdd4: "backup-target" on "ssd2-hdd4";
    backup_target_mixed6_pool: "backup-target" on "mixed6-pool";
    backup_target_usb_stick: "backup-target" on "usb-stick";
    backup_target_4kn: "backup-target" on "4kn";
    backup_target_reprovision: "backup-target" on "reprovision";
    encrypted_ssd2_hdd4: "encrypted" on "ssd2-hdd4";
    encrypted_one_disk: "encrypted" on "one-disk";
    encrypted_reprovision: "encrypted" on "reprovision";
    minimal_one_disk: "minimal" on "one-disk";
    minimal_ssd2_hdd4: "minimal" on "ssd2-hdd4";
    minimal_mixed6_pool: "minimal" on "mixed6-pool";
    minimal_usb_stick: "minimal" on "usb-stick";
    minimal_4kn: "minimal" on "4kn";
    minimal_reprovision: "minimal" on "reprovision";
    mirror_one_disk: "mirror" on "one-disk";
    mirror_ssd2_hdd4: "mirror" on "ssd2-hdd4";
    mirror_mixed6_pool: "mirror" on "mixed6-pool";
    mirror_usb_stick: "mirror" on "usb-stick";
    mirror_4kn: "mirror" on "4kn";
    mirror_reprovision: "mirror" on "reprovision";
    storage_one_disk: "storage" on "one-disk";
    storage_ssd2_hdd4: "storage" on "ssd2-hdd4";
    storage_mixed6_pool: "storage" on "mixed6-pool";
    storage_usb_stick: "storage" on "usb-stick";
    storage_4kn: "storage" on "4kn";
    storage_reprovision: "storage" on "reprovision";
}
