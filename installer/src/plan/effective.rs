//! The profile as this machine will have it: the answer's values laid over it.

use crate::answer::Answer;
use crate::keypath::KeyPath;
use crate::profile::Profile;

pub fn effective(profile: &Profile, answer: &Answer) -> Profile {
    let mut out = profile.clone();
    let system = &mut out.system;
    if let Some(hostname) = &answer.hostname {
        system.hostname = hostname.clone();
    }
    if let Some(domain) = &answer.domain {
        system.domain = domain.clone();
    }
    if let Some(timezone) = &answer.timezone {
        system.timezone = timezone.clone();
    }
    if let Some(keymap) = &answer.keymap {
        system.keymap = keymap.clone();
    }
    if let Some(hash) = &answer.root_password {
        system.root_password = hash.clone();
    }
    system
        .root_ssh_keys
        .extend(answer.root_ssh_keys.iter().cloned());
    for user in &mut system.users {
        let Some(given) = answer.users.get(&user.name) else {
            continue;
        };
        if let Some(hash) = &given.password {
            user.password = hash.clone();
        }
        user.ssh_keys.extend(given.ssh_keys.iter().cloned());
        user.samba_nt_hash.clone_from(&given.samba_nt_hash);
    }
    for pool in &mut out.storage.pools {
        let Some(given) = answer.pools.get(&pool.name) else {
            continue;
        };
        if let Some(topology) = given.topology {
            pool.topology = topology;
            pool.vdev_width = None;
        }
        if !given.disks.is_empty() {
            pool.disks.count = given.disks.len() as u32;
        }
    }
    if let Some(network) = &answer.network {
        out.network = network.clone();
    }
    if let Some(alerts) = &answer.alerts {
        out.alerts = alerts.clone();
    }
    out.alerts.smtp_password.clone_from(&answer.smtp_password);
    out.alerts.webhook_token.clone_from(&answer.webhook_token);
    if let Some(updates) = &answer.updates {
        out.updates = updates.clone();
    }
    if let Some(ntp) = &answer.ntp {
        out.system.ntp = ntp.clone();
    }
    if let Some(receive) = out
        .services
        .backup_target
        .as_mut()
        .and_then(|t| t.zfs_receive.as_mut())
    {
        receive
            .ssh_keys
            .extend(answer.zfs_receive_ssh_keys.iter().cloned());
    }
    if let (Some(backup), Some(repository)) = (
        &mut out.services.cloud_backup,
        &answer.cloud_backup_repository,
    ) {
        backup.repository = repository.clone();
    }
    out
}

/// The answer's values pass the checks the profile's passed: a value from
/// the network cannot bring in what a profile could not. Each finding is
/// named at the answer's key where one maps to it.
pub fn recheck(profile: &Profile) -> Vec<super::PlanProblem> {
    let mut findings = crate::validate::profile(profile);
    findings.extend(crate::services::check::findings(profile));
    findings
        .into_iter()
        .map(|finding| {
            let at = finding.key.to_string();
            let (doc, key) = match answer_key(&at) {
                Some(key) => (super::Doc::Answer, KeyPath::parse(key)),
                None => (super::Doc::Profile, finding.key),
            };
            super::PlanProblem {
                doc,
                key,
                message: format!("with the answer's values, {at}: {}", finding.message),
            }
        })
        .collect()
}

/// The answer key that sets a profile key, for the keys an answer sets.
fn answer_key(profile_key: &str) -> Option<&'static str> {
    const KEYS: [(&str, &str); 6] = [
        ("system.hostname", "hostname"),
        ("system.domain", "domain"),
        ("system.timezone", "timezone"),
        ("system.keymap", "keymap"),
        ("system.root-password", "root-password"),
        (
            "services.cloud-backup.repository",
            "cloud-backup-repository",
        ),
    ];
    for whole in ["network", "alerts", "updates"] {
        if profile_key.starts_with(whole) {
            return Some(whole);
        }
    }
    if profile_key.starts_with("system.ntp") {
        return Some("ntp");
    }
    KEYS.iter()
        .find(|(from, _)| *from == profile_key)
        .map(|(_, to)| *to)
}
