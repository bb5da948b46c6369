//! The profile as this machine will have it: the answer's values laid over it.

use crate::answer::Answer;
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
