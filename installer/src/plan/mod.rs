//! The plan: everything the installer will do, computed from the profile,
//! the answer and the disk inventory without touching anything. `--dry-run`
//! prints it; the executor carries it out step by step.

pub mod boot;
pub mod care;
mod command;
mod drift;
mod effective;
pub mod keys;
pub mod layout;
mod render;
mod select;
pub mod state;
pub mod system;
mod zfs;

pub use care::CarePlan;
pub use command::VdevClass;
pub use drift::drift;
pub use effective::effective;
pub use layout::{PartitionKind, PlannedPartition};
pub use render::render;
pub use state::{Restore, StatePlan};
pub use zfs::ALTROOT;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::answer::Answer;
use crate::inventory::{Disk, Inventory};
use crate::keypath::KeyPath;
use crate::password::Password;
use crate::profile::{KeySource, PoolRole, Profile, Topology};
use crate::services::{self, FirstBootStep, Task};
use crate::size::Bytes;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Plan {
    pub profile: String,
    pub base: String,
    pub suite: String,
    pub hostname: String,
    pub fqdn: String,
    /// Disks that will be wiped and partitioned.
    pub erase: Vec<DiskPlan>,
    /// Disks that will not be opened for writing, and why.
    pub untouched: Vec<Untouched>,
    pub pools: Vec<PoolPlan>,
    pub datasets: Vec<DatasetPlan>,
    pub boot: BootPlan,
    pub accounts: Vec<Account>,
    pub files: Vec<FilePlan>,
    pub packages: Vec<String>,
    pub units: Vec<String>,
    pub first_boot: Vec<FirstBootStepPlan>,
    /// The server's keys and secrets: kept, and brought back.
    pub state: StatePlan,
    /// Alerts, scrubs, TRIM, updates and time.
    pub care: CarePlan,
    /// Secrets of the answer, by name, that files hold as `@secret:NAME@`:
    /// written at install, never kept in the installed system's plan.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, String>,
    /// Values still to be asked interactively.
    pub prompts: Vec<String>,
    /// Ethernet NICs named nic0, nic1, ... by MAC (.link files written at
    /// install from the NICs the live system sees).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pin_nic_names: bool,
}

/// A disk as the plan names it: enough for a person to recognise it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct DiskRef {
    pub path: PathBuf,
    pub stable_path: PathBuf,
    pub model: Option<String>,
    pub serial: Option<String>,
    pub size: Bytes,
    pub logical_sector: u32,
}

impl DiskRef {
    pub fn of(disk: &Disk) -> Self {
        DiskRef {
            path: disk.path.clone(),
            stable_path: disk.stable_path(),
            model: disk.model.clone(),
            serial: disk.serial.clone(),
            size: disk.size,
            logical_sector: disk.logical_sector,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct DiskPlan {
    pub disk: DiskRef,
    /// Pool and vdev the disk joins, e.g. "rpool mirror".
    pub role: String,
    /// Why the filter chose it.
    pub chosen_because: String,
    /// What is on it now, if anything ("blank" otherwise), and who allowed erasing it.
    pub holds: String,
    /// The answer says `wipe = true` for this disk: it may hold data.
    pub wipe: bool,
    pub partitions: Vec<PlannedPartition>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Untouched {
    pub disk: DiskRef,
    pub why: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PoolPlan {
    pub name: String,
    pub role: PoolRole,
    pub action: PoolAction,
    /// Pool properties (`zpool create -o`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<String, String>,
    /// Properties of the pool's root dataset (`zpool create -O`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dataset_properties: BTreeMap<String, String>,
    pub vdevs: Vec<VdevPlan>,
    /// How the pool is keyed, when it is encrypted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<PoolKey>,
}

/// An encrypted pool's key: its material is in `Plan::secrets`, or made
/// on the target (key = "generate"), or comes from the recovery kit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PoolKey {
    pub key: KeySource,
    /// Where a raw key lives on the installed system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<String>,
    /// The initramfs's SSH port, when the root pool unlocks over SSH.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_unlock: Option<u16>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PoolAction {
    Create,
    /// Kept from a previous install: imported, never written.
    Import,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct VdevPlan {
    pub class: VdevClass,
    pub topology: Topology,
    /// Partition paths as zpool will be given them.
    pub members: Vec<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct DatasetPlan {
    pub name: String,
    /// `zfs create -o` properties.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<String, String>,
    /// On a kept pool: created only if it does not exist yet.
    pub only_if_missing: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct BootPlan {
    /// Every disk of the root pool gets BIOS GRUB, an ESP with GRUB for UEFI,
    /// and the kernel and initrd, so any one of them boots alone.
    pub disks: Vec<BootDisk>,
    pub kernel_cmdline: String,
    /// What upgrades keep to roll back to.
    #[serde(default)]
    pub environments: crate::profile::BootEnvironments,
    /// The machine's own module-signing key, made here for DKMS.
    #[serde(default)]
    pub machine_key: MachineKey,
}

/// DKMS signs the modules it rebuilds after a kernel update with a key
/// made on this machine; Secure Boot loads them once shim trusts it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct MachineKey {
    /// Enroll it with `mokutil --import` (on UEFI), the one-time password
    /// being the answer's `mok-password-hash` (a secret of the plan).
    pub enroll: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct BootDisk {
    pub disk: PathBuf,
    pub esp: PathBuf,
    pub bios_boot: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Account {
    pub name: String,
    pub groups: Vec<String>,
    pub password: Password,
    pub ssh_keys: Vec<String>,
    /// NT hash for Samba's passdb, when the profile shares with this user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samba_nt_hash: Option<String>,
}

/// A file written into the target; services make theirs (`hearth_services::File`).
pub use crate::services::File as FilePlan;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct FirstBootStepPlan {
    pub service: String,
    pub action: String,
    pub task: Task,
}

impl From<FirstBootStep> for FirstBootStepPlan {
    fn from(step: FirstBootStep) -> Self {
        FirstBootStepPlan {
            service: step.service,
            action: step.action,
            task: step.task,
        }
    }
}

/// Which input a planning problem is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Doc {
    Profile,
    Answer,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanProblem {
    pub doc: Doc,
    pub key: KeyPath,
    pub message: String,
}

impl Plan {
    /// The plan as the installed system keeps it: password and Samba
    /// hashes are in /etc/shadow and Samba's database, and nowhere else.
    pub fn without_secrets(&self) -> Plan {
        let mut plan = self.clone();
        for account in &mut plan.accounts {
            if matches!(account.password, Password::Crypt(_)) {
                account.password = Password::Kept;
            }
            account.samba_nt_hash = None;
        }
        plan.secrets.clear();
        plan
    }

    /// The plan without pools' passphrases and keys: what may be hashed
    /// into a file on the server.
    pub fn without_pool_keys(&self) -> Plan {
        let mut plan = self.clone();
        plan.secrets.retain(|name, _| {
            !name.starts_with("zfs-passphrase:") && !name.starts_with("zfs-key:")
        });
        plan
    }
}

/// The secret that holds the MOK enrolment's one-time password hash.
pub const MOK_PASSWORD: &str = "mok-password-hash";

/// The answer's secrets that planned files name, and the MOK password.
fn secrets(profile: &Profile, answer: &Answer) -> BTreeMap<String, String> {
    use services::alerts::{SMTP_PASSWORD, WEBHOOK_TOKEN};
    let alerts = &profile.alerts;
    [
        (SMTP_PASSWORD, &alerts.smtp_password),
        (WEBHOOK_TOKEN, &alerts.webhook_token),
    ]
    .into_iter()
    .filter_map(|(name, value)| Some((name.to_string(), value.clone()?)))
    .chain(keys::secrets(answer))
    .chain(
        answer
            .mok_password_hash
            .clone()
            .map(|hash| (MOK_PASSWORD.to_string(), hash)),
    )
    .collect()
}

/// Computes the plan, or every reason it cannot be made.
pub fn build(
    profile: &Profile,
    answer: &Answer,
    inventory: &Inventory,
) -> Result<Plan, Vec<PlanProblem>> {
    let profile = effective(profile, answer);
    let problems = effective::recheck(&profile);
    if !problems.is_empty() {
        return Err(problems);
    }
    let selection = select::select(&profile, answer, inventory)?;
    let problems = keys::problems(&profile, answer, &selection);
    if !problems.is_empty() {
        return Err(problems);
    }
    let pools = zfs::pools(&profile, &selection);
    let datasets = zfs::datasets(&profile, &selection);
    let mut boot = boot::boot(&profile, &selection);
    boot.machine_key.enroll = answer.mok_password_hash.is_some();
    let (accounts, prompts) = system::accounts(&profile);
    let mut prompts = prompts;
    prompts.extend(
        keys::missing_passphrases(&profile, answer, &selection)
            .into_iter()
            .map(|pool| {
                format!(
                    "encryption passphrase of pool {pool} (typed twice; asked again at every boot)"
                )
            }),
    );
    let state = state::state(&profile, answer, &selection);
    let mut files = system::files(&profile);
    files.extend(state::files(&state));
    let care = care::care(&profile, &selection);
    files.extend(care.files);
    let mut units = services::units(&profile);
    // hearth-firstboot stays last: it runs once everything else is up.
    let first_boot = units.pop();
    units.extend(care.units);
    units.extend(state::units(&state));
    units.extend(first_boot);
    Ok(Plan {
        profile: profile.name.clone(),
        base: format!("{:?}", profile.base).to_lowercase(),
        suite: profile.suite.clone(),
        hostname: profile.system.hostname.clone(),
        fqdn: format!("{}.{}", profile.system.hostname, profile.system.domain),
        erase: selection.erase.clone(),
        untouched: selection.untouched.clone(),
        pools,
        datasets,
        boot,
        accounts,
        files,
        packages: services::packages(&profile),
        units,
        first_boot: services::first_boot(&profile)
            .into_iter()
            .map(Into::into)
            .collect(),
        state,
        care: care.plan,
        secrets: secrets(&profile, answer),
        prompts,
        pin_nic_names: profile.network.pin_names,
    })
}
