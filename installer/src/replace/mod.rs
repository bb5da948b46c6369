//! `hearth replace-disk OLD NEW`: a new disk takes a failed mirror
//! member's place. It is partitioned as an install would have done it, gets
//! GRUB and an ESP when the pool is the root pool, and `zpool replace`
//! resilvers onto it while progress is reported.

pub mod status;

use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::disk;
use crate::install::boot;
use crate::inventory::{Disk, Inventory};
use crate::plan::{layout, BootDisk, DiskPlan, DiskRef, PartitionKind};
use crate::runner::Runner;

#[derive(Debug, Clone)]
pub struct ReplacePlan {
    pub pool: String,
    /// The failed member, as zpool names it.
    pub old: String,
    pub partner: String,
    pub disk: DiskPlan,
    /// The new disk's ZFS partition, which joins the vdev.
    pub member: PathBuf,
    pub boot: Option<BootDisk>,
}

/// Pure: the pool's `zpool status -j -P`, the inventory, and the user's words.
pub fn plan(
    pool: &str,
    status_json: &str,
    inventory: &Inventory,
    old: &str,
    new: &str,
    root_pool: bool,
    wipe: bool,
) -> Result<ReplacePlan> {
    let tree = status::members(status_json, pool)?;
    let Some((member, partners)) = status::find(&tree, old) else {
        bail!("pool {pool} has no member `{old}`; `zpool status -P {pool}` lists its members");
    };
    let Some(partner) = partners.iter().find(|m| m.state == "ONLINE") else {
        bail!(
            "`{old}` has no ONLINE partner in its vdev; a mirror member can be replaced only while another copy is healthy"
        );
    };
    let Some(new_disk) = inventory.disks.iter().find(|d| d.is_named(new)) else {
        bail!("no disk `{new}` on this machine; `hearth disks` lists them");
    };
    if let Some(holding) = new_disk.contents() {
        if !wipe {
            bail!(
                "{} holds {holding}; to use it anyway, pass --wipe",
                new_disk.describe()
            );
        }
    }
    if new_disk.pools.iter().any(|p| p.pool == pool) {
        bail!("{} already belongs to pool {pool}", new_disk.describe());
    }
    let partitions = layout::partitions(new_disk, root_pool);
    let zfs = partitions
        .iter()
        .find(|p| p.kind == PartitionKind::Zfs)
        .context("the layout has no ZFS partition")?;
    if let Some(size) = partner_size(inventory, &partner.name) {
        if zfs.size.0 < size {
            bail!(
                "{} is too small: its ZFS partition would be {} bytes, the partner's {} is {size}",
                new_disk.describe(),
                zfs.size.0,
                partner.name
            );
        }
    }
    let member_path = zfs.path.clone();
    let boot = root_pool.then(|| boot_disk(new_disk, &partitions));
    Ok(ReplacePlan {
        pool: pool.into(),
        old: member.name.clone(),
        partner: partner.name.clone(),
        disk: DiskPlan {
            disk: DiskRef::of(new_disk),
            role: format!("{pool} (replaces {old})"),
            chosen_because: "named on the command line".into(),
            holds: new_disk.contents().unwrap_or_else(|| "blank".into()),
            wipe,
            partitions,
        },
        member: member_path,
        boot,
    })
}

/// The size of the partner's partition, from the inventory.
fn partner_size(inventory: &Inventory, partition: &str) -> Option<u64> {
    let (disk_name, number) = partition.rsplit_once("-part")?;
    let number: u32 = number.parse().ok()?;
    let disk = inventory.disks.iter().find(|d| d.is_named(disk_name))?;
    disk.partitions
        .iter()
        .find(|p| trailing_number(&p.path) == Some(number))
        .map(|p| p.size.0)
}

fn trailing_number(path: &Path) -> Option<u32> {
    let text = path.to_string_lossy();
    let digits: String = text
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    digits.parse().ok()
}

fn boot_disk(disk: &Disk, partitions: &[layout::PlannedPartition]) -> BootDisk {
    let path_of = |kind| {
        partitions
            .iter()
            .find(|p| p.kind == kind)
            .map(|p| p.path.clone())
            .unwrap_or_default()
    };
    BootDisk {
        disk: disk.stable_path(),
        esp: path_of(PartitionKind::Esp),
        bios_boot: path_of(PartitionKind::BiosBoot),
    }
}

/// On the running system: finds the pool and its state, plans, and (unless
/// `dry_run`) carries the plan out.
pub fn run(
    old: &str,
    new: &str,
    pool: Option<&str>,
    wipe: bool,
    dry_run: bool,
    runner: &Runner,
) -> Result<()> {
    let pools: Vec<String> = match pool {
        Some(name) => vec![name.to_string()],
        None => runner
            .run("zpool", &["list", "-H", "-o", "name"])?
            .lines()
            .map(str::to_string)
            .collect(),
    };
    let found = pools.iter().find_map(|name| {
        let json = runner.run("zpool", &["status", "-j", "-P", name]).ok()?;
        let tree = status::members(&json, name).ok()?;
        status::find(&tree, old).map(|_| (name.clone(), json))
    });
    let Some((pool, text)) = found else {
        bail!("no pool has a member `{old}`; `zpool status -P` lists them");
    };
    let root = runner.run("findmnt", &["-n", "-o", "SOURCE", "/"])?;
    let root = root.trim();
    let root_pool = root.split('/').next() == Some(pool.as_str());
    let inventory = crate::inventory::probe_with(false)?;
    let plan = plan(&pool, &text, &inventory, old, new, root_pool, wipe)?;
    println!(
        "{}: replacing {} (partner {}) with {}{}",
        plan.pool,
        plan.old,
        plan.partner,
        plan.member.display(),
        if plan.boot.is_some() {
            ", with GRUB (BIOS and UEFI) and an ESP"
        } else {
            ""
        }
    );
    for part in &plan.disk.partitions {
        println!(
            "  part {} {:?} start {} size {}",
            part.number, part.kind, part.start, part.size
        );
    }
    if dry_run {
        println!("dry run: nothing written");
        return Ok(());
    }
    execute(&plan, runner)
}

/// Partitions the new disk, installs the bootloader, replaces, reports the resilver.
pub fn execute(plan: &ReplacePlan, runner: &Runner) -> Result<()> {
    let options = disk::Options {
        wait: Some(Duration::from_secs(30)),
    };
    disk::partition_disks(std::slice::from_ref(&plan.disk), runner, &options)?;
    if let Some(boot_disk) = &plan.boot {
        // GRUB now; every environment's files once the ESP is listed.
        let uuid = boot::install_disk(Path::new("/"), boot_disk, runner, |_, _| Ok(()))?;
        let config = crate::be::config()?;
        let mut uuids = crate::be::esp_uuids(&config.pool, runner)?;
        if !uuids.contains(&uuid) {
            uuids.push(uuid);
            crate::be::set_esp_uuids(&config.pool, &uuids, runner)?;
        }
        crate::be::sync(runner)?;
    }
    runner.run(
        "zpool",
        &[
            "replace",
            "-f",
            &plan.pool,
            &plan.old,
            &plan.member.display().to_string(),
        ],
    )?;
    report_resilver(&plan.pool, runner)
}

fn report_resilver(pool: &str, runner: &Runner) -> Result<()> {
    let mut last = String::new();
    loop {
        let json = runner.run("zpool", &["status", "-j", pool])?;
        let scan = status::scan(&json, pool)?;
        let line = scan.line();
        if line != last {
            println!("{line}");
            last = line.clone();
        }
        if !scan.resilvering() {
            let done = format!("{pool}: {}", scan.outcome());
            println!("{done}");
            runner.note(&done);
            return Ok(());
        }
        sleep(Duration::from_secs(2));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::PoolLabel;
    use crate::size::Bytes;

    /// The degraded mirror of `status`'s tests, its members renamed d1 and d2.
    fn status() -> String {
        status::tests::DEGRADED.replace("hearth-disk-", "d")
    }

    fn disk(id: &str, gib: u64) -> Disk {
        let mut d = Disk::blank(Path::new(&format!("/dev/{id}")), Bytes(gib << 30), 512);
        d.by_id = vec![format!("virtio-{id}")];
        d
    }

    fn inventory() -> Inventory {
        let mut d2 = disk("d2", 8);
        d2.partitions = layout::partitions(&d2, true)
            .into_iter()
            .map(|p| crate::inventory::Partition {
                path: PathBuf::from(format!("/dev/vdb{}", p.number)),
                size: p.size,
                filesystem: None,
                label: None,
                partlabel: None,
                mountpoints: Vec::new(),
            })
            .collect();
        Inventory {
            disks: vec![d2, disk("d3", 8), disk("d4", 4)],
        }
    }

    #[test]
    fn the_new_disk_is_laid_out_like_an_install_and_joins_the_vdev() {
        let plan = plan(
            "rpool",
            &status(),
            &inventory(),
            "virtio-d1-part3",
            "virtio-d3",
            true,
            false,
        )
        .expect("plan");
        assert_eq!(plan.old, "4483212296402916617");
        assert_eq!(plan.partner, "/dev/disk/by-id/virtio-d2-part3");
        assert_eq!(
            plan.member,
            PathBuf::from("/dev/disk/by-id/virtio-d3-part3")
        );
        assert_eq!(plan.disk.partitions.len(), 3);
        let boot = plan.boot.expect("root pool: bootloader");
        assert_eq!(boot.esp, PathBuf::from("/dev/disk/by-id/virtio-d3-part2"));
    }

    #[test]
    fn refusals_name_the_reason() {
        let inv = inventory();
        let err = |old: &str, new: &str| {
            plan("rpool", &status(), &inv, old, new, true, false)
                .expect_err("refused")
                .to_string()
        };
        assert!(err("virtio-nope", "virtio-d3").contains("has no member `virtio-nope`"));
        assert!(err("virtio-d1-part3", "virtio-d9").contains("no disk `virtio-d9`"));
        assert!(err("virtio-d1-part3", "virtio-d4").contains("is too small"));
        let mut busy = inventory();
        busy.disks[1].pools.push(PoolLabel {
            pool: "tank".into(),
            guid: "1".into(),
            device: "/dev/d3".into(),
            state: Some("exported".into()),
        });
        let refused = plan(
            "rpool",
            &status(),
            &busy,
            "virtio-d1-part3",
            "virtio-d3",
            true,
            false,
        )
        .expect_err("holds a pool")
        .to_string();
        assert!(refused.contains("pass --wipe"), "{refused}");
    }
}
