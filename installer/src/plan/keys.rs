//! Encrypted pools in the plan: how each is keyed and unlocked, the key
//! material the answer gave (as secrets, never in the plan's files), and
//! what is missing, found before any write.

use std::collections::BTreeMap;

use super::select::Selection;
use super::{Doc, PlanProblem, PoolKey};
use crate::answer::Answer;
use crate::keypath::KeyPath;
use crate::profile::{KeySource, Pool, PoolRole, Profile};
use crate::services::encryption::{self, UNLOCK_PORT};

/// The secret that holds a pool's passphrase.
pub fn passphrase_secret(pool: &str) -> String {
    format!("zfs-passphrase:{pool}")
}

/// The secret that holds a pool's raw key, hex-encoded.
pub fn key_secret(pool: &str) -> String {
    format!("zfs-key:{pool}")
}

/// How a pool of the profile is keyed, if it is encrypted.
pub fn pool_key(pool: &Pool) -> Option<PoolKey> {
    let encryption = pool.encryption.as_ref()?;
    Some(PoolKey {
        key: encryption.key,
        key_file: (encryption.key != KeySource::Passphrase)
            .then(|| encryption::key_file(&pool.name)),
        remote_unlock: encryption.remote_unlock.then_some(UNLOCK_PORT),
    })
}

/// The answer's passphrases and keys, by secret name.
pub fn secrets(answer: &Answer) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (name, pool) in &answer.pools {
        if let Some(passphrase) = &pool.passphrase {
            out.insert(passphrase_secret(name), passphrase.clone());
        }
        if let Some(key) = &pool.key_bytes {
            out.insert(key_secret(name), hex(&key.0));
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Keys the answer must give and does not, and remote unlock without a
/// way in. A passphrase missing for a pool made here is a prompt instead
/// (the interactive install asks it); an unattended install refuses it.
pub fn problems(profile: &Profile, answer: &Answer, selection: &Selection) -> Vec<PlanProblem> {
    let mut out = Vec::new();
    for (i, pool) in profile.storage.pools.iter().enumerate() {
        let Some(encryption) = &pool.encryption else {
            continue;
        };
        let given = answer.pools.get(&pool.name);
        let at = KeyPath::root().key("pools").key(pool.name.clone());
        let kept = selection.kept.contains(&pool.name);
        let has_key = given.is_some_and(|g| g.key_bytes.is_some());
        let has_passphrase = given.is_some_and(|g| g.passphrase.is_some());
        if encryption.key == KeySource::File && !kept && !has_key {
            out.push(answer_problem(
                at.key("key-file"),
                format!(
                    "pool {} is encrypted with key = \"file\": give its raw 32-byte key file here",
                    pool.name
                ),
            ));
        }
        if encryption.key == KeySource::Passphrase && kept && !has_passphrase {
            out.push(answer_problem(
                at.key("passphrase"),
                format!("kept pool {} is encrypted with a passphrase: give it here (or passphrase-file) so the install can import it", pool.name),
            ));
        }
        if encryption.remote_unlock && pool.role == PoolRole::Root {
            out.extend(remote_problems(profile, i));
        }
    }
    out
}

fn remote_problems(profile: &Profile, index: usize) -> Vec<PlanProblem> {
    let at = KeyPath::root()
        .key("storage")
        .key("pools")
        .index(index)
        .key("encryption")
        .key("remote-unlock");
    let mut out = Vec::new();
    if profile.system.root_ssh_keys.is_empty() {
        out.push(PlanProblem {
            doc: Doc::Profile,
            key: at.clone(),
            message: "remote unlock logs in with root's SSH keys only, and there are none: give root-ssh-keys in the answer or the profile's [system]".into(),
        });
    }
    if let Some(why) = encryption::unreachable_address(profile) {
        out.push(PlanProblem {
            doc: Doc::Profile,
            key: at,
            message: why,
        });
    }
    out
}

fn answer_problem(key: KeyPath, message: String) -> PlanProblem {
    PlanProblem {
        doc: Doc::Answer,
        key,
        message,
    }
}

/// Pools made here whose passphrase nobody gave yet.
pub fn missing_passphrases(
    profile: &Profile,
    answer: &Answer,
    selection: &Selection,
) -> Vec<String> {
    profile
        .storage
        .pools
        .iter()
        .filter(|p| !selection.kept.contains(&p.name))
        .filter(|p| {
            p.encryption
                .as_ref()
                .is_some_and(|e| e.key == KeySource::Passphrase)
        })
        .filter(|p| {
            answer
                .pools
                .get(&p.name)
                .is_none_or(|g| g.passphrase.is_none())
        })
        .map(|p| p.name.clone())
        .collect()
}

/// The preview's words for how a pool unlocks.
pub fn describe(key: &PoolKey, pool: &super::PoolPlan) -> String {
    let name = &pool.name;
    let how = match (key.key, pool.role) {
        (KeySource::Passphrase, PoolRole::Root) => {
            let mut how =
                "a passphrase typed at boot in the initramfs, on the console or the serial console"
                    .to_string();
            if let Some(port) = key.remote_unlock {
                how.push_str(&format!(
                    ", or over SSH into it on port {port} (root's keys only, `zfsunlock`)"
                ));
            }
            how
        }
        (KeySource::Passphrase, PoolRole::Data) => format!(
            "a passphrase typed at boot (systemd asks on the console for hearth-load-key@{name})"
        ),
        (KeySource::Generate, _) => format!(
            "a raw key made on the target at {}, loaded at boot by hearth-load-key@{name}",
            encryption::key_file(name)
        ),
        (KeySource::File, _) => format!(
            "the answer's raw key, at {}, loaded at boot by hearth-load-key@{name}",
            encryption::key_file(name)
        ),
    };
    let from = match pool.action {
        super::PoolAction::Import if key.key != KeySource::Passphrase => {
            "; the install loads the key from the answer's key-file or the recovery kit"
        }
        _ => "",
    };
    format!("encrypted (aes-256-gcm), unlocked by {how}{from}")
}
