//! Pools and datasets, created or imported as the plan says, and exported
//! again at the end whatever happened.

use std::fs;
use std::path::Path;

use anyhow::{anyhow, Context, Result};

use super::keys;
use crate::at_once::at_once;
use crate::datasets::BOOT_ENV;
use crate::plan::{DatasetPlan, Plan, PoolAction, PoolPlan};
use crate::runner::Runner;

#[derive(Default)]
pub struct Imported {
    pools: Vec<String>,
    hostid: Option<String>,
    /// Keys of kept pools that the recovery kit holds.
    pub kit_keys: keys::KitKeys,
}

impl Imported {
    pub fn create(&mut self, plan: &Plan, runner: &Runner) -> Result<()> {
        // Every installed system gets its own hostid; pools record the hostid
        // that made them, and the target's initramfs must carry the same one.
        let hostid = new_hostid()?;
        runner.run("zgenhostid", &["-f", &hostid])?;
        let _ = fs::write(
            "/sys/module/spl/parameters/spl_hostid",
            format!("0x{hostid}"),
        );
        self.hostid = Some(hostid);
        // Pools are independent: made (or imported) at once. Each one
        // made is recorded as it lands, so `close` exports it whatever
        // became of the others.
        let made = std::sync::Mutex::new(Vec::new());
        let result = at_once(&plan.pools, "zpool", |pool| {
            create_pool(plan, pool, runner)?;
            made.lock()
                .map_err(|_| anyhow!("zpool"))?
                .push(pool.name.clone());
            match pool.action {
                PoolAction::Import => keys::load_kept(plan, pool, &self.kit_keys, runner),
                PoolAction::Create => Ok(()),
            }
        });
        let made = made.into_inner().map_err(|_| anyhow!("zpool"))?;
        // In the plan's order: `close` exports them last first.
        for pool in &plan.pools {
            if made.contains(&pool.name) {
                self.pools.push(pool.name.clone());
            }
        }
        result?;
        // A dataset needs only its parent; siblings are made at once, as
        // each `zfs create` waits for its own transaction group.
        for wave in by_depth(&plan.datasets) {
            at_once(wave, "zfs create", |dataset| {
                create_dataset(dataset, runner)
            })?;
        }
        // zpool create mounted each pool's own dataset before the boot
        // environment was there to hold its mountpoint: all unmounted, then
        // mounted again over it, in mountpoint order.
        runner.run("zfs", &["unmount", "-a"])?;
        // canmount=noauto: mounted by hand before anything lands below it.
        if let Some(root) = plan
            .datasets
            .iter()
            .find(|d| d.name.ends_with(&format!("/ROOT/{BOOT_ENV}")))
        {
            runner.run("zfs", &["mount", &root.name])?;
        }
        runner.run("zfs", &["mount", "-a"])?;
        Ok(())
    }

    /// The cache file that imports the pools at boot, and the hostid they carry.
    pub fn record_cache(&self, plan: &Plan, target: &Path, runner: &Runner) -> Result<()> {
        fs::create_dir_all(target.join("etc/zfs"))?;
        for pool in &self.pools {
            runner.run("zpool", &["set", "cachefile=/etc/zfs/zpool.cache", pool])?;
        }
        fs::copy("/etc/zfs/zpool.cache", target.join("etc/zfs/zpool.cache"))
            .context("copying zpool.cache")?;
        fs::copy("/etc/hostid", target.join("etc/hostid")).context("copying the hostid")?;
        keys::copy_to_target(plan, target)
    }

    /// Exports every pool this install imported or created.
    pub fn close(&mut self, runner: &Runner) -> Result<()> {
        let mut failed = Vec::new();
        while let Some(pool) = self.pools.pop() {
            if runner.run("zpool", &["export", &pool]).is_err() {
                let _ = runner.run("umount", &["-R", "-l", crate::plan::ALTROOT]);
                if runner.run("zpool", &["export", "-f", &pool]).is_err() {
                    failed.push(pool);
                }
            }
        }
        if failed.is_empty() {
            Ok(())
        } else {
            anyhow::bail!("could not export {}", failed.join(", "))
        }
    }
}

/// `zpool create` (with its passphrase, if any) or `zpool import`.
fn create_pool(plan: &Plan, pool: &PoolPlan, runner: &Runner) -> Result<()> {
    let argv = pool.argv();
    let args: Vec<&str> = argv.iter().skip(1).map(String::as_str).collect();
    let stdin = match pool.action {
        PoolAction::Create => keys::before_create(plan, pool)?,
        PoolAction::Import => None,
    };
    match &stdin {
        Some(passphrase) => runner.run_with_input(&argv[0], &args, passphrase),
        None => runner.run(&argv[0], &args),
    }
    .with_context(|| format!("pool {}", pool.name))?;
    Ok(())
}

/// The datasets grouped by depth, shallowest first, each group in plan
/// order: every parent is made in an earlier group.
fn by_depth(datasets: &[DatasetPlan]) -> Vec<Vec<&DatasetPlan>> {
    let mut groups: std::collections::BTreeMap<usize, Vec<&DatasetPlan>> = Default::default();
    for dataset in datasets {
        let depth = dataset.name.matches('/').count();
        groups.entry(depth).or_default().push(dataset);
    }
    groups.into_values().collect()
}

/// One dataset, unmounted; on a kept pool only when it is missing.
fn create_dataset(dataset: &DatasetPlan, runner: &Runner) -> Result<()> {
    if dataset.only_if_missing
        && runner
            .run("zfs", &["list", "-H", "-o", "name", &dataset.name])
            .is_ok()
    {
        runner.note(&format!(
            "{} exists on the kept pool; left as it is",
            dataset.name
        ));
        return Ok(());
    }
    let argv = dataset.argv();
    let args: Vec<&str> = argv.iter().skip(1).map(String::as_str).collect();
    runner.run(&argv[0], &args)?;
    Ok(())
}

fn new_hostid() -> Result<String> {
    let bytes = crate::runner::random_bytes::<4>()?;
    Ok(format!("{:08x}", u32::from_be_bytes(bytes)))
}
