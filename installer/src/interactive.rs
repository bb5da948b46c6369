//! The interactive install, on tty1 or the serial console: the questions
//! become an answer file, and from there the install is the unattended one.
//! Nothing is written before the full plan is shown and the person types
//! the host name to confirm.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use dialoguer::theme::SimpleTheme;
use dialoguer::{Confirm, Input, MultiSelect, Password, Select};

use crate::answer::{AfterInstall, Answer, DiskAnswer, PoolAnswer, UserAnswer};
use crate::inventory::{Disk, Inventory};
use crate::medium::{missing, Share};
use crate::password::{hash, nt_hash};
use crate::plan::Plan;
use crate::profile::{Addressing, Network, Profile, Topology};
use crate::validate::{is_cidr, is_hostname, is_ssh_key, HOSTNAME_RULE};

/// What the person chose; `answer` turns it into an answer file.
#[derive(Debug, Clone, Default)]
pub struct Choices {
    pub profile: String,
    pub hostname: String,
    /// Crypt hashes or "locked"; None leaves the account as the profile says.
    pub root_password: Option<String>,
    pub user_passwords: BTreeMap<String, Hashes>,
    pub ssh_key: Option<String>,
    /// Per pool, the disks (stable paths) its data vdevs get.
    pub pools: BTreeMap<String, Vec<String>>,
    /// Per pool, a layout other than the profile's.
    pub topologies: BTreeMap<String, Topology>,
    /// Disks that hold something and may be erased.
    pub wipe: Vec<String>,
    pub network: Option<Network>,
    /// Per encrypted pool, its passphrase: into the answer on the live
    /// system's RAM only, never onto the target.
    pub passphrases: BTreeMap<String, String>,
}

pub fn answer(choices: &Choices) -> Answer {
    let mut answer = Answer {
        profile: Some(choices.profile.clone()),
        hostname: Some(choices.hostname.clone()),
        root_password: choices.root_password.clone(),
        root_ssh_keys: choices.ssh_key.iter().cloned().collect(),
        network: choices.network.clone(),
        after_install: AfterInstall::Reboot,
        ..Answer::default()
    };
    for (user, hashes) in &choices.user_passwords {
        answer.users.insert(
            user.clone(),
            UserAnswer {
                password: Some(hashes.crypt.clone()),
                ssh_keys: choices.ssh_key.iter().cloned().collect(),
                samba_nt_hash: hashes.samba.clone(),
            },
        );
    }
    for (pool, disks) in &choices.pools {
        answer.pools.insert(
            pool.clone(),
            PoolAnswer {
                disks: disks.clone(),
                topology: choices.topologies.get(pool).copied(),
                passphrase: choices.passphrases.get(pool).cloned(),
                ..PoolAnswer::default()
            },
        );
    }
    for disk in &choices.wipe {
        answer.disks.insert(disk.clone(), DiskAnswer { wipe: true });
    }
    answer
}

/// A typed password as the system and Samba store it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hashes {
    /// A crypt hash, or "locked" when no password was given.
    pub crypt: String,
    /// Only where the profile shares with Samba.
    pub samba: Option<String>,
}

/// What the person confirmed: the plan they saw, saved as JSON, which is
/// what runs, and the answer it was made from (for `after-install`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmed {
    pub plan: PathBuf,
    pub answer: PathBuf,
}

/// Asks, shows the plan, and saves it once confirmed.
pub fn ask(share: &Share, work: &Path) -> Result<Option<Confirmed>> {
    let theme = SimpleTheme;
    let inventory = crate::inventory::probe()?;
    println!("\nHearth interactive install. Disks on this machine:");
    for disk in &inventory.disks {
        println!("  {}", describe(disk));
    }
    println!();
    let names = shipped(share)?;
    let default = fs::read_to_string(share.default_profile())
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let items: Vec<String> = names.iter().map(|(n, d)| format!("{n}: {d}")).collect();
    let picked = Select::with_theme(&theme)
        .with_prompt("Profile")
        .items(&items)
        .default(names.iter().position(|(n, _)| *n == default).unwrap_or(0))
        .interact()?;
    let profile_name = names[picked].0.clone();
    let profile_path = share.profile(&profile_name);
    let profile = crate::load::profile(&profile_path)
        .map_err(|p| anyhow!("{p}"))?
        .value;

    let mut choices = Choices {
        profile: profile_name,
        ..Choices::default()
    };
    choose_disks(&theme, &profile, &inventory, &mut choices)?;
    choices.hostname = Input::with_theme(&theme)
        .with_prompt("Host name")
        .default(profile.system.hostname.clone())
        .validate_with(|h: &String| {
            if is_hostname(h) {
                Ok(())
            } else {
                Err(HOSTNAME_RULE)
            }
        })
        .interact_text()?;
    choices.passphrases = ask_passphrases(&theme, &profile)?;
    choices.root_password = Some(ask_password(&theme, "root")?.crypt);
    let samba = profile.services.samba.is_some();
    for user in profile.system.users.iter().filter(|u| u.password == "ask") {
        let mut hashes = ask_password(&theme, &user.name)?;
        hashes.samba = hashes.samba.filter(|_| samba);
        choices.user_passwords.insert(user.name.clone(), hashes);
    }
    let key: String = Input::with_theme(&theme)
        .with_prompt("SSH public key for root and the users (empty: none)")
        .allow_empty(true)
        .validate_with(|k: &String| {
            if k.is_empty() || is_ssh_key(k) {
                Ok(())
            } else {
                Err("not an OpenSSH public key (ssh-ed25519 AAAA... comment)")
            }
        })
        .interact_text()?;
    choices.ssh_key = (!key.is_empty()).then_some(key);
    choices.network = ask_network(&theme, &profile.network)?;

    let answer_path = work.join("answer.toml");
    fs::create_dir_all(work)?;
    // Both hold the typed passwords' hashes: root only from creation.
    let answer_text = toml::to_string(&answer(&choices))?;
    hearth_system::files::write_mode(&answer_path, answer_text.as_bytes(), 0o600)?;
    let plan = crate::prepare::plan_from_files(&profile_path, Some(&answer_path), &inventory)
        .map_err(|p| anyhow!("{p}"))?;
    println!("\n{}", crate::plan::render(&plan));
    if !confirm(&theme, &plan, &choices.hostname)? {
        return Ok(None);
    }
    let plan_path = work.join("plan.json");
    let plan_text = serde_json::to_string_pretty(&plan)?;
    hearth_system::files::write_mode(&plan_path, plan_text.as_bytes(), 0o600)?;
    Ok(Some(Confirmed {
        plan: plan_path,
        answer: answer_path,
    }))
}

/// The profiles this medium can install: those whose packages its base
/// carries (a minimal ISO cannot make a NAS).
fn shipped(share: &Share) -> Result<Vec<(String, String)>> {
    let carried = share.carried()?;
    let mut out = Vec::new();
    for entry in fs::read_dir(share.profiles()).context("reading the shipped profiles")? {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let Ok(loaded) = crate::load::profile(&path) else {
            continue;
        };
        let profile = loaded.value;
        if missing(&carried, &crate::services::packages(&profile)).is_empty() {
            out.push((profile.name, profile.description));
        }
    }
    out.sort();
    if out.is_empty() {
        bail!("no profile on this medium can be installed from it");
    }
    Ok(out)
}

fn describe(disk: &Disk) -> String {
    let holds = disk.contents().unwrap_or_else(|| "blank".into());
    format!(
        "{}  {}  {}  serial {}  {:?}  holds {holds}{}",
        disk.stable_path().display(),
        disk.size.decimal(),
        disk.model.as_deref().unwrap_or("unknown model"),
        disk.serial.as_deref().unwrap_or("none"),
        disk.transport,
        if disk.live_medium {
            "  (runs this installer)"
        } else {
            ""
        }
    )
}

/// Per pool: the disks the profile's filters would take, pre-ticked.
fn choose_disks(
    theme: &SimpleTheme,
    profile: &Profile,
    inventory: &Inventory,
    choices: &mut Choices,
) -> Result<()> {
    let automatic = crate::plan::build(profile, &Answer::default(), inventory).ok();
    let usable: Vec<&Disk> = inventory.disks.iter().filter(|d| !d.live_medium).collect();
    let mut taken: Vec<String> = Vec::new();
    for pool in &profile.storage.pools {
        let pre: Vec<bool> = usable
            .iter()
            .map(|d| {
                automatic
                    .as_ref()
                    .is_some_and(|plan| chosen_for(plan, &pool.name, d))
            })
            .collect();
        let items: Vec<String> = usable.iter().map(|d| describe(d)).collect();
        let picked = MultiSelect::with_theme(theme)
            .with_prompt(format!(
                "Disks for pool {} ({:?}; space toggles, enter accepts)",
                pool.name, pool.topology
            ))
            .items(&items)
            .defaults(&pre)
            .interact()?;
        let mut disks = Vec::new();
        for index in picked {
            let disk = usable[index];
            let path = disk.stable_path().display().to_string();
            if taken.contains(&path) {
                bail!("{path} is already in another pool");
            }
            if let Some(holding) = disk.contents() {
                let erase = Confirm::with_theme(theme)
                    .with_prompt(format!("{path} holds {holding}. Erase it?"))
                    .default(false)
                    .interact()?;
                if !erase {
                    bail!("{path} was not erased; start again and choose other disks");
                }
                choices.wipe.push(path.clone());
            }
            taken.push(path.clone());
            disks.push(path);
        }
        let fits: Vec<Topology> = Topology::ALL
            .into_iter()
            .filter(|t| t.min_disks() as usize <= disks.len().max(1))
            .collect();
        let names: Vec<&str> = fits.iter().map(|t| t.name()).collect();
        let layout = Select::with_theme(theme)
            .with_prompt(format!("Layout of pool {}", pool.name))
            .items(&names)
            .default(fits.iter().position(|t| *t == pool.topology).unwrap_or(0))
            .interact()?;
        if fits[layout] != pool.topology {
            choices.topologies.insert(pool.name.clone(), fits[layout]);
        }
        choices.pools.insert(pool.name.clone(), disks);
    }
    Ok(())
}

fn chosen_for(plan: &Plan, pool: &str, disk: &Disk) -> bool {
    plan.erase.iter().any(|d| {
        d.disk.stable_path == disk.stable_path() && d.role.starts_with(&format!("{pool} "))
    })
}

/// The password's crypt and NT hashes; an empty one locks the account.
fn ask_password(theme: &SimpleTheme, account: &str) -> Result<Hashes> {
    let password = loop {
        let typed = Password::with_theme(theme)
            .with_prompt(format!("Password for {account} (empty: locked)"))
            .with_confirmation("Again", "The two passwords differ")
            .allow_empty_password(true)
            .interact()?;
        match crate::password::too_weak(&typed).filter(|_| !typed.is_empty()) {
            Some(why) => println!("Password refused: {why}."),
            None => break typed,
        }
    };
    if password.is_empty() {
        return Ok(Hashes {
            crypt: "locked".into(),
            samba: None,
        });
    }
    Ok(Hashes {
        crypt: hash(&password)?,
        samba: Some(nt_hash(&password)),
    })
}

/// Every pool encrypted with a passphrase gets one, typed twice.
fn ask_passphrases(theme: &SimpleTheme, profile: &Profile) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for pool in &profile.storage.pools {
        let encrypted = pool.encryption.as_ref();
        if encrypted.is_some_and(|e| e.key == crate::profile::KeySource::Passphrase) {
            out.insert(pool.name.clone(), ask_passphrase(theme, &pool.name)?);
        }
    }
    Ok(out)
}

/// A pool's encryption passphrase, typed twice: ZFS takes 8 to 512 bytes.
fn ask_passphrase(theme: &SimpleTheme, pool: &str) -> Result<String> {
    loop {
        let typed = Password::with_theme(theme)
            .with_prompt(format!(
                "Encryption passphrase of pool {pool} (asked at every boot)"
            ))
            .with_confirmation("Again", "The two passphrases differ")
            .interact()?;
        if crate::validate::PASSPHRASE_LEN.contains(&typed.len()) {
            return Ok(typed);
        }
        println!("Passphrase refused: ZFS takes 8 to 512 bytes.");
    }
}

fn ask_network(theme: &SimpleTheme, profile: &Network) -> Result<Option<Network>> {
    let choice = Select::with_theme(theme)
        .with_prompt("Network")
        .items(["DHCP (as the profile says)", "Static address"])
        .default(0)
        .interact()?;
    if choice == 0 {
        return Ok(None);
    }
    let address: String = Input::with_theme(theme)
        .with_prompt("Address with prefix (e.g. 192.168.1.10/24)")
        .validate_with(|a: &String| {
            if is_cidr(a) {
                Ok(())
            } else {
                Err("an IPv4 or IPv6 address with /prefix")
            }
        })
        .interact_text()?;
    let gateway: String = Input::with_theme(theme)
        .with_prompt("Gateway")
        .validate_with(|g: &String| {
            g.parse::<std::net::IpAddr>()
                .map(drop)
                .map_err(|_| "an IP address")
        })
        .interact_text()?;
    let dns: String = Input::with_theme(theme)
        .with_prompt("DNS servers (comma separated)")
        .default(gateway.clone())
        .interact_text()?;
    Ok(Some(Network {
        addressing: Addressing::Static,
        address: Some(address),
        gateway: Some(gateway),
        dns: dns.split(',').map(|s| s.trim().to_string()).collect(),
        ..profile.clone()
    }))
}

fn confirm(theme: &SimpleTheme, plan: &Plan, hostname: &str) -> Result<bool> {
    let erased = plan.erase.len();
    let typed: String = Input::with_theme(theme)
        .with_prompt(format!(
            "{erased} disk(s) listed above will be ERASED. Type the host name ({hostname}) to install, anything else to stop"
        ))
        .allow_empty(true)
        .interact_text()?;
    if typed.trim() == hostname {
        Ok(true)
    } else {
        println!("Stopped: nothing was written.");
        Ok(false)
    }
}

/// `hearth hash-password`: asks twice (or reads one line from a pipe) and
/// prints the two lines an answer takes under `[users.<name>]`.
/// A secret typed twice on a terminal, else the first line of stdin.
pub fn typed_twice(prompt: &str) -> Result<String> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        return Ok(dialoguer::Password::new()
            .with_prompt(prompt)
            .with_confirmation("Again", "The two differ")
            .interact()?);
    }
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

pub fn hash_password() -> Result<()> {
    let password = typed_twice("Password")?;
    if password.is_empty() {
        anyhow::bail!("an empty password is not hashed; leave `password` out to lock the account");
    }
    if let Some(why) = crate::password::too_weak(&password) {
        anyhow::bail!("password refused: {why}");
    }
    println!("password = \"{}\"", crate::password::hash(&password)?);
    println!(
        "samba-nt-hash = \"{}\"",
        crate::password::nt_hash(&password)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_become_an_answer_the_planner_accepts() {
        let hash = hash("correct horse").expect("hash");
        assert!(hash.starts_with("$6$rounds=100000$"), "{hash}");
        assert!(sha_crypt::sha512_check("correct horse", &hash).is_ok());
        let mut choices = Choices {
            profile: "mirror".into(),
            hostname: "box".into(),
            root_password: Some(hash.clone()),
            ssh_key: Some("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJkpnHva2X8411OC5FAZWn7JQfmhDA6+/qPR8EcLJsa5 admin@laptop".into()),
            ..Choices::default()
        };
        choices.user_passwords.insert(
            "admin".into(),
            Hashes {
                crypt: hash,
                samba: None,
            },
        );
        choices.pools.insert(
            "rpool".into(),
            vec![
                "/dev/disk/by-id/ata-Samsung_SSD_870_EVO_500GB_S6PXNS0T100001A".into(),
                "/dev/disk/by-id/ata-Samsung_SSD_870_EVO_500GB_S6PXNS0T100002B".into(),
            ],
        );
        let text = toml::to_string(&answer(&choices)).expect("toml");
        let dir = std::env::temp_dir().join(format!("hearth-interactive-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("answer.toml");
        fs::write(&path, &text).expect("write");
        let inventory = crate::prepare::read_inventory(Path::new(
            "tests/fixtures/machines/ssd2-hdd4/inventory.json",
        ))
        .expect("fixture");
        let plan = crate::prepare::plan_from_files(
            Path::new("../profiles/mirror.toml"),
            Some(&path),
            &inventory,
        )
        .unwrap_or_else(|p| panic!("{p}\n{text}"));
        fs::remove_dir_all(&dir).expect("cleanup");
        assert_eq!(plan.erase.len(), 2);
        assert_eq!(plan.pools[0].vdevs[0].topology, Topology::Mirror);
        assert!(plan.erase.iter().all(|d| d
            .disk
            .stable_path
            .display()
            .to_string()
            .contains("Samsung")));
    }
}
