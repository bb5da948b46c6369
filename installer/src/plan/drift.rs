//! Between the plan a person confirmed and the moment it runs, the machine
//! may change: a disk pulled, another plugged in, a stick swapped. The plan
//! runs only on the machine it was made for.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::{DiskRef, Plan};
use crate::inventory::Inventory;

/// Every difference between the disks the plan names and the machine's
/// disks now, in words; empty when they are the same.
pub fn drift(plan: &Plan, now: &Inventory) -> Vec<String> {
    let planned: BTreeMap<PathBuf, &DiskRef> = plan
        .erase
        .iter()
        .map(|d| &d.disk)
        .chain(plan.untouched.iter().map(|u| &u.disk))
        .map(|d| (d.stable_path.clone(), d))
        .collect();
    let present: BTreeMap<PathBuf, DiskRef> = now
        .disks
        .iter()
        .map(DiskRef::of)
        .map(|d| (d.stable_path.clone(), d))
        .collect();
    let mut out = Vec::new();
    for (path, was) in &planned {
        match present.get(path) {
            None => out.push(format!("{} is gone", path.display())),
            Some(is) if is != *was => out.push(format!(
                "{} changed: planned {}, now {}",
                path.display(),
                describe(was),
                describe(is)
            )),
            Some(_) => {}
        }
    }
    for path in present.keys().filter(|p| !planned.contains_key(*p)) {
        out.push(format!("{} is new", path.display()));
    }
    out
}

fn describe(disk: &DiskRef) -> String {
    format!(
        "{} {} {} bytes, {}-byte sectors, at {}",
        disk.model.as_deref().unwrap_or("?"),
        disk.serial.as_deref().unwrap_or("?"),
        disk.size.0,
        disk.logical_sector,
        disk.path.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer::Answer;
    use crate::prepare::read_inventory;
    use std::path::Path;

    fn planned() -> (Plan, Inventory) {
        let dir = Path::new("tests/fixtures/machines/ssd2-hdd4");
        let inventory = read_inventory(&dir.join("inventory.json")).expect("fixture");
        let profile = crate::load::profile(Path::new("../profiles/homelab.toml"))
            .expect("homelab")
            .value;
        let plan = super::super::build(&profile, &Answer::default(), &inventory).expect("plan");
        (plan, inventory)
    }

    #[test]
    fn the_same_machine_has_no_drift() {
        let (plan, inventory) = planned();
        assert_eq!(drift(&plan, &inventory), Vec::<String>::new());
    }

    #[test]
    fn a_pulled_a_swapped_and_a_new_disk_are_each_named() {
        let (plan, mut inventory) = planned();
        let pulled = inventory.disks.remove(0);
        inventory.disks[0].size.0 += 1 << 30;
        let mut new = pulled.clone();
        new.by_id = vec!["ata-NEW_DISK_1234".into()];
        inventory.disks.push(new);
        let found = drift(&plan, &inventory);
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(
            found[0..2].iter().any(|f| f.ends_with("is gone")),
            "{found:?}"
        );
        assert!(
            found[0..2].iter().any(|f| f.contains("changed: planned")),
            "{found:?}"
        );
        assert_eq!(found[2], "/dev/disk/by-id/ata-NEW_DISK_1234 is new");
    }
}
