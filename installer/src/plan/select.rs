//! Which disks each pool gets, and which are left alone. Safety lives here:
//! the boot medium is never chosen, kept pools are never written, and a disk
//! holding anything is used only when the answer says `wipe` for it.

use std::collections::BTreeSet;

use super::layout;
use super::VdevClass;
use super::{DiskPlan, DiskRef, Doc, PlanProblem, Untouched};
use crate::answer::Answer;
use crate::inventory::{kind_name, Disk, Inventory};
use crate::keypath::KeyPath;
use crate::profile::{DiskFilter, DiskKind, Pool, PoolRole, Profile, Topology};
use crate::size::Bytes;

/// Chosen disks: for each pool and vdev class, the members in order.
pub struct Selection<'a> {
    pub erase: Vec<DiskPlan>,
    pub untouched: Vec<Untouched>,
    pub members: Vec<Members<'a>>,
    /// Pools imported as they are.
    pub kept: Vec<String>,
}

pub struct Members<'a> {
    pub pool: String,
    pub class: VdevClass,
    pub topology: Topology,
    pub width: Option<u32>,
    pub disks: Vec<&'a Disk>,
}

struct State<'a> {
    inventory: &'a Inventory,
    answer: &'a Answer,
    claimed: BTreeSet<&'a str>,
    problems: Vec<PlanProblem>,
}

/// A vdev class of a pool: topology, width, which disks, the key they came from.
type Class<'p> = (VdevClass, Topology, Option<u32>, &'p DiskFilter, KeyPath);

/// The pool's data vdevs, then its special, log, cache and spare vdevs.
fn vdev_classes<'p>(pool: &'p Pool, key: &KeyPath) -> Vec<Class<'p>> {
    let mut classes: Vec<Class> = vec![(
        VdevClass::Data,
        pool.topology,
        pool.vdev_width,
        &pool.disks,
        key.key("disks"),
    )];
    if let Some(aux) = &pool.special {
        classes.push((
            VdevClass::Special,
            aux.topology,
            None,
            &aux.disks,
            key.key("special").key("disks"),
        ));
    }
    if let Some(aux) = &pool.log {
        classes.push((
            VdevClass::Log,
            aux.topology,
            None,
            &aux.disks,
            key.key("log").key("disks"),
        ));
    }
    if let Some(filter) = &pool.cache {
        classes.push((
            VdevClass::Cache,
            Topology::Stripe,
            None,
            filter,
            key.key("cache"),
        ));
    }
    if let Some(filter) = &pool.spare {
        classes.push((
            VdevClass::Spare,
            Topology::Stripe,
            None,
            filter,
            key.key("spare"),
        ));
    }
    classes
}

pub fn select<'a>(
    profile: &Profile,
    answer: &'a Answer,
    inventory: &'a Inventory,
) -> Result<Selection<'a>, Vec<PlanProblem>> {
    let mut state = State {
        inventory,
        answer,
        claimed: BTreeSet::new(),
        problems: Vec::new(),
    };
    state.check_answer_disks();
    let kept = state.keep_pools();
    let mut members = Vec::new();
    let mut erase = Vec::new();
    for (i, pool) in profile.storage.pools.iter().enumerate() {
        if kept.contains(&pool.name) {
            continue;
        }
        let key = KeyPath::root().key("storage").key("pools").index(i);
        let pinned = answer
            .pools
            .get(&pool.name)
            .map(|p| p.disks.as_slice())
            .unwrap_or(&[]);
        let classes = vdev_classes(pool, &key);
        for (class, topology, width, filter, at) in classes {
            let pins = if class == VdevClass::Data {
                pinned
            } else {
                &[]
            };
            let boot = pool.role == PoolRole::Root && class == VdevClass::Data;
            let need = Need {
                class: class.name(),
                filter,
                minimum: layout::minimum(boot),
            };
            let chosen = state.choose(&pool.name, &need, pins, &at);
            for (disk, because) in &chosen {
                let role = format!("{} {} ({})", pool.name, class.name(), topology.name());
                let partitions = layout::partitions(disk, boot);
                erase.push(DiskPlan {
                    disk: DiskRef::of(disk),
                    role,
                    chosen_because: because.clone(),
                    holds: state.holds(disk),
                    wipe: state.may_erase(disk),
                    partitions,
                });
            }
            if class == VdevClass::Data {
                state.check_ashift(pool.ashift, &chosen, &key);
            }
            let disks = chosen.into_iter().map(|(d, _)| d).collect();
            members.push(Members {
                pool: pool.name.clone(),
                class,
                topology,
                width,
                disks,
            });
        }
    }
    if !state.problems.is_empty() {
        return Err(state.problems);
    }
    let untouched = state.untouched(&kept);
    Ok(Selection {
        erase,
        untouched,
        members,
        kept,
    })
}

impl<'a> State<'a> {
    fn problem(&mut self, doc: Doc, key: KeyPath, message: String) {
        self.problems.push(PlanProblem { doc, key, message });
    }

    fn find(&self, name: &str) -> Option<&'a Disk> {
        self.inventory.disks.iter().find(|d| d.is_named(name))
    }

    fn known_names(&self) -> String {
        let names: Vec<String> = self
            .inventory
            .disks
            .iter()
            .map(|d| d.stable_path().display().to_string())
            .collect();
        if names.is_empty() {
            "none (no disks found)".into()
        } else {
            names.join(", ")
        }
    }

    /// Every disk the answer names must exist, and none may be the boot medium.
    fn check_answer_disks(&mut self) {
        let mut named: Vec<(KeyPath, &'a str)> = Vec::new();
        for name in self.answer.disks.keys() {
            named.push((KeyPath::root().key("disks").key(name.clone()), name));
        }
        for (pool, given) in &self.answer.pools {
            for (i, name) in given.disks.iter().enumerate() {
                named.push((
                    KeyPath::root()
                        .key("pools")
                        .key(pool.clone())
                        .key("disks")
                        .index(i),
                    name,
                ));
            }
        }
        for (key, name) in named {
            let matching: Vec<&Disk> = self
                .inventory
                .disks
                .iter()
                .filter(|d| d.is_named(name))
                .collect();
            if matching.len() > 1 {
                let paths: Vec<String> = matching
                    .iter()
                    .map(|d| d.stable_path().display().to_string())
                    .collect();
                self.problem(
                    Doc::Answer,
                    key,
                    format!(
                        "`{name}` names {} disks on this machine ({}); name one by its by-id link or kernel path",
                        matching.len(),
                        paths.join(", ")
                    ),
                );
                continue;
            }
            match self.find(name) {
                None => {
                    let allowed = self.known_names();
                    self.problem(
                        Doc::Answer,
                        key,
                        format!("no disk `{name}` on this machine; allowed: {allowed}"),
                    );
                }
                Some(disk) if disk.read_only => self.problem(
                    Doc::Answer,
                    key,
                    format!(
                        "{} is read-only; it cannot be installed to",
                        disk.describe()
                    ),
                ),
                Some(disk) if disk.live_medium => self.problem(
                    Doc::Answer,
                    key,
                    format!(
                        "{} is the medium Hearth is running from; it cannot be installed to",
                        disk.describe()
                    ),
                ),
                Some(_) => {}
            }
        }
    }

    /// Disks of kept pools are claimed first, so no filter can pick them.
    fn keep_pools(&mut self) -> Vec<String> {
        let mut kept = Vec::new();
        for name in self
            .answer
            .pools
            .iter()
            .filter(|(_, p)| p.keep)
            .map(|(n, _)| n)
        {
            let key = KeyPath::root().key("pools").key(name.clone()).key("keep");
            let holders: Vec<&'a Disk> = self
                .inventory
                .disks
                .iter()
                .filter(|d| d.pools.iter().any(|p| &p.pool == name))
                .collect();
            if holders.is_empty() {
                let found: BTreeSet<&str> = self
                    .inventory
                    .disks
                    .iter()
                    .flat_map(|d| d.pools.iter().map(|p| p.pool.as_str()))
                    .collect();
                let found = if found.is_empty() {
                    "none".to_string()
                } else {
                    found.into_iter().collect::<Vec<_>>().join(", ")
                };
                self.problem(
                    Doc::Answer,
                    key,
                    format!("no disk holds a pool `{name}`; pools found: {found}"),
                );
                continue;
            }
            for disk in holders {
                self.claimed.insert(&disk.name);
                let wipes = self
                    .answer
                    .disks
                    .iter()
                    .filter(|(n, d)| d.wipe && disk.is_named(n));
                for (given, _) in wipes {
                    self.problem(
                        Doc::Answer,
                        KeyPath::root().key("disks").key(given.clone()).key("wipe"),
                        format!("{} holds pool `{name}`, which the answer keeps; it cannot also be wiped", disk.describe()),
                    );
                }
            }
            kept.push(name.clone());
        }
        kept
    }

    /// The answer says wipe, or the disk holds only Hearth's own unfinished
    /// install (its marker, never a guess).
    fn may_erase(&self, disk: &Disk) -> bool {
        self.wipe_allowed(disk) || disk.unfinished_install()
    }

    fn wipe_allowed(&self, disk: &Disk) -> bool {
        self.answer
            .disks
            .iter()
            .any(|(name, d)| d.wipe && disk.is_named(name))
    }

    fn holds(&self, disk: &Disk) -> String {
        match disk.contents() {
            None => "blank".into(),
            Some(what) if disk.unfinished_install() => {
                format!("{what}: Hearth's own install, cut off (its marker); erased again")
            }
            Some(what) => format!("{what}; erased because the answer says wipe = true"),
        }
    }

    fn choose(
        &mut self,
        pool: &str,
        need: &Need,
        pinned: &[String],
        at: &KeyPath,
    ) -> Vec<(&'a Disk, String)> {
        let (class, filter) = (need.class, need.filter);
        let wanted = filter.count as usize;
        if !pinned.is_empty() {
            return self.choose_pinned(pool, pinned, wanted, need.minimum);
        }
        let mut eligible: Vec<&'a Disk> = Vec::new();
        let mut refused: Vec<String> = Vec::new();
        for disk in &self.inventory.disks {
            if disk.live_medium || disk.read_only || self.claimed.contains(disk.name.as_str()) {
                continue;
            }
            if matches(disk, filter).is_err() {
                continue;
            }
            if disk.size < need.minimum {
                refused.push(too_small(disk, need.minimum));
                continue;
            }
            match disk.contents() {
                Some(what) if !self.may_erase(disk) => refused.push(format!(
                    "{} holds {what} (to use it, the answer must say [disks.\"{}\"] wipe = true)",
                    disk.describe(),
                    disk.stable_path().display()
                )),
                _ => eligible.push(disk),
            }
        }
        // Smallest first: big disks stay free for the pools that want them.
        eligible.sort_by(|a, b| {
            a.size
                .cmp(&b.size)
                .then_with(|| a.stable_path().cmp(&b.stable_path()))
        });
        if eligible.len() < wanted {
            let mut message = format!(
                "pool `{pool}` needs {wanted} {class} disk(s) matching {}; {} found",
                describe_filter(filter),
                eligible.len()
            );
            for line in &refused {
                message.push_str(&format!("; refused: {line}"));
            }
            self.problem(Doc::Profile, at.clone(), message);
            return Vec::new();
        }
        eligible
            .into_iter()
            .take(wanted)
            .map(|disk| {
                self.claimed.insert(&disk.name);
                (disk, matches(disk, filter).unwrap_or_default())
            })
            .collect()
    }

    fn choose_pinned(
        &mut self,
        pool: &str,
        pinned: &[String],
        wanted: usize,
        minimum: Bytes,
    ) -> Vec<(&'a Disk, String)> {
        let key = KeyPath::root()
            .key("pools")
            .key(pool.to_string())
            .key("disks");
        if pinned.len() != wanted {
            self.problem(
                Doc::Answer,
                key.clone(),
                format!(
                    "pool `{pool}` takes {wanted} data disks; the answer names {}",
                    pinned.len()
                ),
            );
        }
        let mut chosen = Vec::new();
        for (i, name) in pinned.iter().enumerate() {
            let Some(disk) = self.find(name) else {
                continue;
            };
            if disk.live_medium {
                continue;
            }
            if !self.claimed.insert(&disk.name) {
                self.problem(
                    Doc::Answer,
                    key.index(i),
                    format!("{} is already used by another pool", disk.describe()),
                );
                continue;
            }
            if let Some(what) = disk.contents().filter(|_| !self.may_erase(disk)) {
                self.problem(
                    Doc::Answer,
                    key.index(i),
                    format!(
                        "{} holds {what}; add [disks.\"{name}\"] wipe = true to erase it",
                        disk.describe()
                    ),
                );
                continue;
            }
            if disk.size < minimum {
                self.problem(Doc::Answer, key.index(i), too_small(disk, minimum));
                continue;
            }
            chosen.push((disk, format!("named in the answer (pools.{pool}.disks)")));
        }
        chosen
    }

    fn check_ashift(&mut self, ashift: u8, chosen: &[(&Disk, String)], key: &KeyPath) {
        let sector = 1u64 << ashift.min(16);
        for (disk, _) in chosen {
            if u64::from(disk.logical_sector) > sector {
                self.problem(
                    Doc::Profile,
                    key.key("ashift"),
                    format!("ashift {ashift} writes {sector}-byte blocks but {} has {}-byte sectors; allowed: ashift >= {}", disk.path.display(), disk.logical_sector, disk.logical_sector.trailing_zeros()),
                );
            }
        }
    }

    fn untouched(&self, kept: &[String]) -> Vec<Untouched> {
        self.inventory
            .disks
            .iter()
            .filter(|d| {
                !self.claimed.contains(d.name.as_str())
                    || d.pools.iter().any(|p| kept.contains(&p.pool))
            })
            .map(|disk| {
                let why = if disk.live_medium {
                    "the medium Hearth is running from".to_string()
                } else if let Some(pool) = disk.pools.iter().find(|p| kept.contains(&p.pool)) {
                    format!("holds pool `{}`, kept: imported, never written", pool.pool)
                } else {
                    match disk.contents() {
                        Some(what) => format!("not selected; holds {what}"),
                        None => "not selected by any pool".to_string(),
                    }
                };
                Untouched {
                    disk: DiskRef::of(disk),
                    why,
                }
            })
            .collect()
    }
}

/// Why the disk matches the filter, or the first criterion it fails.
/// What a vdev class asks of its disks.
struct Need<'p> {
    class: &'static str,
    filter: &'p DiskFilter,
    minimum: Bytes,
}

fn too_small(disk: &Disk, minimum: Bytes) -> String {
    format!(
        "{} is too small for this layout; allowed: at least {} ({} bytes)",
        disk.describe(),
        minimum.binary(),
        minimum.0
    )
}

fn matches(disk: &Disk, filter: &DiskFilter) -> Result<String, ()> {
    let mut reasons = Vec::new();
    match filter.kind {
        DiskKind::Any => {}
        DiskKind::Ssd if disk.kind() == DiskKind::Hdd => return Err(()),
        DiskKind::Ssd if disk.kind() == DiskKind::Nvme => reasons.push("kind ssd (nvme)".into()),
        DiskKind::Ssd => reasons.push("kind ssd".into()),
        kind if disk.kind() != kind => return Err(()),
        kind => reasons.push(format!("kind {}", kind_name(kind))),
    }
    if let Some(transport) = filter.transport {
        if disk.transport != transport {
            return Err(());
        }
        reasons.push(format!(
            "transport {}",
            format!("{transport:?}").to_lowercase()
        ));
    }
    if let Some(min) = filter.min_size {
        if disk.size < min {
            return Err(());
        }
        reasons.push(format!("size {} >= {min}", disk.size.decimal()));
    }
    if let Some(max) = filter.max_size {
        if disk.size > max {
            return Err(());
        }
        reasons.push(format!("size {} <= {max}", disk.size.decimal()));
    }
    for (what, glob, value) in [
        ("model", &filter.model, &disk.model),
        ("serial", &filter.serial, &disk.serial),
    ] {
        if let Some(glob) = glob {
            let value = value.as_deref().unwrap_or("");
            if !glob::Pattern::new(glob).is_ok_and(|p| p.matches(value)) {
                return Err(());
            }
            reasons.push(format!("{what} {value:?} matches {glob:?}"));
        }
    }
    if !filter.by_id.is_empty() {
        let hit = disk.by_id.iter().find(|id| {
            filter
                .by_id
                .iter()
                .any(|g| glob::Pattern::new(g).is_ok_and(|p| p.matches(id)))
        });
        match hit {
            Some(id) => reasons.push(format!("by-id {id}")),
            None => return Err(()),
        }
    }
    if reasons.is_empty() {
        reasons.push("any disk".into());
    }
    Ok(reasons.join(", "))
}

fn describe_filter(filter: &DiskFilter) -> String {
    let mut parts = vec![format!("kind = {}", kind_name(filter.kind))];
    if let Some(t) = filter.transport {
        parts.push(format!("transport = {}", format!("{t:?}").to_lowercase()));
    }
    if let Some(min) = filter.min_size {
        parts.push(format!("min-size = {min}"));
    }
    if let Some(max) = filter.max_size {
        parts.push(format!("max-size = {max}"));
    }
    for (what, glob) in [("model", &filter.model), ("serial", &filter.serial)] {
        if let Some(glob) = glob {
            parts.push(format!("{what} = {glob:?}"));
        }
    }
    if !filter.by_id.is_empty() {
        parts.push(format!("by-id = {:?}", filter.by_id));
    }
    format!("({})", parts.join(", "))
}
