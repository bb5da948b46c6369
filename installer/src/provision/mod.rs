//! `installer provision`: the plan's first-boot steps, carried out on the
//! running system. Each task looks before it acts, so a second run changes
//! nothing; what was done, and when, is recorded in a state file.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::plan::FirstBootStepPlan;
use crate::runner::Runner;
use crate::services::Task;

mod guests;

pub const STATE: &str = "/var/lib/hearth/provision.json";
pub const PLAN: &str = "/etc/hearth/plan.json";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Changed(String),
    Unchanged,
    /// Only the admin can go on (why, and what to run); the service's
    /// later steps wait, the others go ahead.
    NeedsAdmin(String),
    NotBuilt,
}

/// What the state file keeps per step: when it last changed something, and what.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    pub steps: BTreeMap<String, Record>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub done_at: u64,
    pub what: String,
}

#[derive(Debug, Default)]
pub struct Summary {
    pub changed: Vec<String>,
    pub unchanged: Vec<String>,
    pub needs_admin: Vec<String>,
    pub not_built: Vec<String>,
}

impl Summary {
    pub fn report(&self) -> String {
        let mut out = String::new();
        for line in &self.changed {
            out.push_str(&format!("changed: {line}\n"));
        }
        for line in &self.needs_admin {
            out.push_str(&format!("needs you: {line}\n"));
        }
        for line in &self.not_built {
            out.push_str(&format!("not built yet, skipped: {line}\n"));
        }
        if self.changed.is_empty() {
            out.push_str(&format!(
                "nothing changed: {} step(s) already done\n",
                self.unchanged.len()
            ));
        }
        out
    }
}

/// Runs every step against the system rooted at `root` ("/" on the server).
pub fn run(
    steps: &[FirstBootStepPlan],
    root: &Path,
    state_file: &Path,
    runner: &Runner,
) -> Result<Summary> {
    let mut state: State = match fs::read_to_string(state_file) {
        Ok(text) => serde_json::from_str(&text)
            .with_context(|| format!("reading {}", state_file.display()))?,
        Err(_) => State::default(),
    };
    let mut summary = Summary::default();
    let mut waiting: Vec<&str> = Vec::new();
    for step in steps {
        let id = format!("{}: {}", step.service, step.action);
        if waiting.contains(&step.service.as_str()) {
            summary
                .needs_admin
                .push(format!("{id} (after the {} step above)", step.service));
            continue;
        }
        let outcome = apply(&step.task, root, runner).with_context(|| id.clone())?;
        match outcome {
            Outcome::Changed(what) => {
                state.steps.insert(
                    id.clone(),
                    Record {
                        done_at: crate::runner::epoch_seconds(),
                        what: what.clone(),
                    },
                );
                summary.changed.push(format!("{id} ({what})"));
            }
            Outcome::Unchanged => summary.unchanged.push(id),
            Outcome::NeedsAdmin(what) => {
                waiting.push(&step.service);
                summary.needs_admin.push(format!("{id}: {what}"));
            }
            Outcome::NotBuilt => summary.not_built.push(id),
        }
    }
    if let Some(dir) = state_file.parent() {
        fs::create_dir_all(dir)?;
    }
    fs::write(state_file, serde_json::to_string_pretty(&state)? + "\n")?;
    Ok(summary)
}

fn apply(task: &Task, root: &Path, runner: &Runner) -> Result<Outcome> {
    match task {
        Task::WireguardKey { base } => wireguard_key(&under(root, base), runner),
        Task::SecretFile { path } => secret_file(&under(root, path)),
        Task::ZfsReceive {
            user,
            dataset,
            ssh_keys,
        } => zfs_receive(root, user, dataset, ssh_keys, runner),
        Task::ShareAccess { path, group, users } => {
            share_access(root, &under(root, path), group, users, runner)
        }
        Task::WireguardClient {
            name,
            address,
            endpoint,
            allowed_ips,
        } => wireguard_client(root, name, address, endpoint, allowed_ips, runner),
        Task::RestServer { path, clients } => {
            rest_server(root, &under(root, path), clients, runner)
        }
        Task::Syncthing {
            user,
            path,
            sync_port,
        } => syncthing(root, user, &under(root, path), *sync_port, runner),
        Task::IncusInit { preseed, dataset } => incus_init(preseed, dataset, runner),
        Task::SshKey { path } => guests::ssh_key(&under(root, path), runner),
        Task::IncusImage {
            alias,
            metadata,
            rootfs,
        } => guests::incus_image(alias, metadata, rootfs, runner),
        Task::IncusGuest { name, args } => guests::incus_guest(name, args, runner),
        Task::DockerImage { tag, rootfs } => guests::docker_image(tag, rootfs, runner),
        Task::CopyFile { from, to } => guests::copy_file(&under(root, from), &under(root, to)),
        Task::ProxmoxStorage { name, args } => guests::proxmox_storage(name, args, runner),
        Task::ProxmoxGuest { tool, id, args } => guests::proxmox_guest(tool, *id, args, runner),
        Task::NotBuilt => Ok(Outcome::NotBuilt),
    }
}

/// Unchanged when a task found everything in place, else what it did.
fn outcome(changed: Vec<String>) -> Outcome {
    if changed.is_empty() {
        Outcome::Unchanged
    } else {
        Outcome::Changed(changed.join(", "))
    }
}

fn has_user(root: &Path, user: &str) -> bool {
    fs::read_to_string(root.join("etc/passwd"))
        .unwrap_or_default()
        .lines()
        .any(|l| l.split(':').next() == Some(user))
}

fn under(root: &Path, path: &Path) -> PathBuf {
    root.join(path.strip_prefix("/").unwrap_or(path))
}

fn wireguard_key(base: &Path, runner: &Runner) -> Result<Outcome> {
    // Appended, not with_extension: a peer named "phone.anna" keeps its dot.
    let suffixed = |suffix: &str| PathBuf::from(format!("{}.{suffix}", base.display()));
    let key = suffixed("key");
    let public = suffixed("pub");
    if key.is_file() && public.is_file() {
        return Ok(Outcome::Unchanged);
    }
    let private = if key.is_file() {
        fs::read_to_string(&key)?.trim().to_string()
    } else {
        runner
            .run_secret("wg", &["genkey"], None)?
            .trim()
            .to_string()
    };
    let derived = runner.run_secret("wg", &["pubkey"], Some(&private))?;
    write_private(&key, &format!("{private}\n"))?;
    fs::write(&public, format!("{}\n", derived.trim()))?;
    Ok(Outcome::Changed(format!(
        "key pair {}",
        suffixed("{key,pub}").display()
    )))
}

fn wireguard_client(
    root: &Path,
    name: &str,
    address: &str,
    endpoint: &str,
    allowed_ips: &[String],
    runner: &Runner,
) -> Result<Outcome> {
    use crate::services::wireguard;
    let read = |path: String| {
        fs::read_to_string(under(root, Path::new(&path)))
            .map(|t| t.trim().to_string())
            .with_context(|| format!("reading {path} (made by the key steps before this one)"))
    };
    let base = wireguard::peer_key(name);
    let private = read(format!("{}.key", base.display()))?;
    let server = read(format!("{}.pub", wireguard::SERVER_KEY))?;
    let wanted = wireguard::client_conf(&private, address, &server, endpoint, allowed_ips);
    let conf = under(root, &PathBuf::from(format!("{}.conf", base.display())));
    let png = conf.with_extension("png");
    if fs::read_to_string(&conf).ok().as_deref() == Some(wanted.as_str()) && png.is_file() {
        return Ok(Outcome::Unchanged);
    }
    write_private(&conf, &wanted)?;
    // The QR code holds the private key too: root only, like the config.
    let shown = png.display().to_string();
    runner.run_secret(
        "qrencode",
        &["-t", "png", "-r", &conf.display().to_string(), "-o", &shown],
        None,
    )?;
    fs::set_permissions(&png, fs::Permissions::from_mode(0o600))?;
    Ok(Outcome::Changed(format!(
        "{} and {}",
        conf.display(),
        png.display()
    )))
}

fn rest_server(root: &Path, path: &Path, clients: &[String], runner: &Runner) -> Result<Outcome> {
    use crate::services::rest_server::{htpasswd, password_file, USER};
    use std::os::unix::fs::MetadataExt;
    let mut changed = Vec::new();
    if !has_user(root, USER) {
        runner.run(
            "useradd",
            &[
                "--system",
                "--user-group",
                "--no-create-home",
                "--home-dir",
                &path.display().to_string(),
                "--shell",
                "/usr/sbin/nologin",
                USER,
            ],
        )?;
        changed.push(format!("user {USER}"));
    }
    let uid: u32 = runner.run("id", &["-u", USER])?.trim().parse()?;
    fs::create_dir_all(path)?;
    if fs::metadata(path)?.uid() != uid {
        let owner = format!("{USER}:{USER}");
        runner.run("chown", &[&owner, &path.display().to_string()])?;
        changed.push(format!("{} owned by {USER}", path.display()));
    }
    let file = under(root, &htpasswd());
    for client in clients {
        let secret = under(root, &password_file(client));
        if secret_file(&secret)? != Outcome::Unchanged {
            changed.push(format!("password of {client}"));
        }
        let listed = fs::read_to_string(&file)
            .unwrap_or_default()
            .lines()
            .any(|l| l.split(':').next() == Some(client.as_str()));
        if !listed {
            let password = fs::read_to_string(&secret)?.trim().to_string();
            let shown = file.display().to_string();
            let mut args = vec!["-B", "-i"];
            if !file.exists() {
                args.push("-c");
            }
            args.extend([shown.as_str(), client.as_str()]);
            runner.run_secret("htpasswd", &args, Some(&password))?;
            changed.push(format!("{client} in {shown}"));
        }
    }
    if file.exists() {
        // rest-server reads it; only root writes it.
        let group = format!("root:{USER}");
        runner.run("chown", &[&group, &file.display().to_string()])?;
        fs::set_permissions(&file, fs::Permissions::from_mode(0o640))?;
    }
    Ok(outcome(changed))
}

fn syncthing(
    root: &Path,
    user: &str,
    path: &Path,
    sync_port: u16,
    runner: &Runner,
) -> Result<Outcome> {
    use crate::services::syncthing as st;
    use std::os::unix::fs::MetadataExt;
    let mut changed = Vec::new();
    let entry = runner.run("getent", &["passwd", user])?;
    let fields: Vec<&str> = entry.trim().split(':').collect();
    let (uid, home) = match fields[..] {
        [_, _, uid, _, _, home, ..] => (uid.parse::<u32>()?, home.to_string()),
        _ => anyhow::bail!("no user {user}"),
    };
    fs::create_dir_all(path)?;
    if fs::metadata(path)?.uid() != uid {
        let owner = format!("{user}:");
        runner.run("chown", &[&owner, &path.display().to_string()])?;
        changed.push(format!("{} owned by {user}", path.display()));
    }
    let dir = st::home(&under(root, Path::new(&home)));
    let config = dir.join("config.xml");
    if !config.is_file() {
        let shown = st::home(Path::new(&home)).display().to_string();
        runner.run(
            "runuser",
            &[
                "-u",
                user,
                "--",
                "syncthing",
                "generate",
                "--no-default-folder",
                "--skip-port-probing",
                &format!("--home={shown}"),
            ],
        )?;
        changed.push(format!("configuration in {shown}"));
    }
    let text = fs::read_to_string(&config)?;
    let mut updated = text.clone();
    if let Some(with) = st::with_folder(&updated, user, path) {
        updated = with;
        changed.push(format!("folder {}", path.display()));
    }
    if let Some(with) = st::with_listen_port(&updated, sync_port) {
        updated = with;
        changed.push(format!("sync port {sync_port}"));
    }
    if updated != text {
        // Written in place: the file keeps its owner and mode.
        fs::write(&config, updated)?;
        // A running Syncthing reads config.xml only when it starts.
        runner.run(
            "systemctl",
            &["try-restart", &format!("syncthing@{user}.service")],
        )?;
    }
    Ok(outcome(changed))
}

fn incus_init(preseed: &str, dataset: &str, runner: &Runner) -> Result<Outcome> {
    let (code, _) = runner.query("incus", &["storage", "show", "default"])?;
    if code == Some(0) {
        return Ok(Outcome::Unchanged);
    }
    // A kept pool whose Incus state was on the lost root: Incus refuses a
    // dataset that is not empty, and only its interactive recovery brings
    // the guests back.
    let (_, children) = runner.query("zfs", &["list", "-H", "-o", "name", "-r", dataset])?;
    if children.lines().count() > 1 {
        return Ok(Outcome::NeedsAdmin(format!(
            "{dataset} holds guests from before this install: run `incus admin recover` \
             (storage pool `default`, driver zfs, source {dataset}), then `installer provision`"
        )));
    }
    runner.run_with_input("incus", &["admin", "init", "--preseed"], preseed)?;
    Ok(Outcome::Changed(
        "storage pool default, default profile".into(),
    ))
}

fn secret_file(path: &Path) -> Result<Outcome> {
    if path.is_file() {
        return Ok(Outcome::Unchanged);
    }
    let bytes = crate::runner::random_bytes::<32>()?;
    // URL-safe: a rest-server password goes into a repository URL.
    let text = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    write_private(path, &format!("{text}\n"))?;
    Ok(Outcome::Changed(format!("{} (mode 0600)", path.display())))
}

/// Written with mode 0600 before the secret goes in.
fn write_private(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    fs::write(path, "")?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))?;
    fs::write(path, text)?;
    Ok(())
}

/// Mode of a shared folder: the group writes, others see nothing, and
/// new files and folders inherit the group (setgid).
const SHARE_MODE: u32 = 0o2770;

fn share_access(
    root: &Path,
    path: &Path,
    group: &str,
    users: &[String],
    runner: &Runner,
) -> Result<Outcome> {
    use std::os::unix::fs::MetadataExt;
    let mut changed = Vec::new();
    let entry = |root: &Path| {
        fs::read_to_string(root.join("etc/group"))
            .unwrap_or_default()
            .lines()
            .map(|l| l.split(':').map(String::from).collect::<Vec<_>>())
            .find(|f| f.first().map(String::as_str) == Some(group))
    };
    if entry(root).is_none() {
        runner.run("groupadd", &["--system", group])?;
        changed.push(format!("group {group}"));
    }
    let fields = entry(root).with_context(|| format!("group {group} was not made"))?;
    let members: Vec<&str> = fields
        .get(3)
        .map(|m| m.split(',').collect())
        .unwrap_or_default();
    for user in users.iter().filter(|u| !members.contains(&u.as_str())) {
        runner.run("gpasswd", &["--add", user, group])?;
        changed.push(format!("{user} in {group}"));
    }
    let gid: u32 = fields
        .get(2)
        .and_then(|g| g.parse().ok())
        .unwrap_or(u32::MAX);
    fs::create_dir_all(path)?;
    let meta = fs::metadata(path)?;
    if meta.gid() != gid || meta.mode() & 0o7777 != SHARE_MODE {
        let shown = path.display().to_string();
        runner.run("chgrp", &[group, &shown])?;
        runner.run("chmod", &[&format!("{SHARE_MODE:o}"), &shown])?;
        changed.push(format!("{shown} owned by {group}, mode {SHARE_MODE:o}"));
    }
    Ok(outcome(changed))
}

const RECEIVE_PERMISSIONS: &str = "receive,create,mount,compression,mountpoint,recordsize";

fn zfs_receive(
    root: &Path,
    user: &str,
    dataset: &str,
    ssh_keys: &[String],
    runner: &Runner,
) -> Result<Outcome> {
    let mut changed = Vec::new();
    if !has_user(root, user) {
        runner.run(
            "useradd",
            &["--system", "--create-home", "--shell", "/bin/sh", user],
        )?;
        changed.push(format!("user {user}"));
    }
    if !ssh_keys.is_empty() {
        let home = runner.run("getent", &["passwd", user])?;
        let home = home
            .trim()
            .split(':')
            .nth(5)
            .unwrap_or_default()
            .to_string();
        let file = under(root, Path::new(&home)).join(".ssh/authorized_keys");
        let wanted = ssh_keys.join("\n") + "\n";
        if fs::read_to_string(&file).ok().as_deref() != Some(wanted.as_str()) {
            fs::create_dir_all(file.parent().unwrap_or(root))?;
            fs::write(&file, &wanted)?;
            let owner = format!("{user}:");
            runner.run(
                "chown",
                &[
                    "-R",
                    &owner,
                    &file.parent().unwrap_or(root).display().to_string(),
                ],
            )?;
            changed.push("authorized_keys".into());
        }
    }
    let allowed = runner.run("zfs", &["allow", dataset])?;
    let has = allowed
        .lines()
        .any(|l| l.trim().starts_with(&format!("user {user} ")) && l.contains("receive"));
    if !has {
        runner.run("zfs", &["allow", "-u", user, RECEIVE_PERMISSIONS, dataset])?;
        changed.push(format!("zfs allow {RECEIVE_PERMISSIONS} on {dataset}"));
    }
    Ok(outcome(changed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("hearth-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("scratch");
        dir
    }

    fn step(task: Task) -> FirstBootStepPlan {
        FirstBootStepPlan {
            service: "test".into(),
            action: format!("{task:?}"),
            task,
        }
    }

    #[test]
    fn a_secret_is_made_once_readable_by_root_only_and_recorded() {
        let root = scratch("secret");
        let state = root.join("state.json");
        let runner = Runner::new(None, false).expect("runner");
        let steps = [step(Task::SecretFile {
            path: "/etc/hearth/restic.password".into(),
        })];
        let first = run(&steps, &root, &state, &runner).expect("first run");
        assert_eq!(first.changed.len(), 1, "{first:?}");
        let file = root.join("etc/hearth/restic.password");
        let secret = fs::read_to_string(&file).expect("secret");
        assert_eq!(secret.trim().len(), 43);
        assert!(!secret.contains(['/', '+', '=']), "{secret}");
        let mode = fs::metadata(&file).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let second = run(&steps, &root, &state, &runner).expect("second run");
        assert!(second.changed.is_empty());
        assert!(second
            .report()
            .contains("nothing changed: 1 step(s) already done"));
        assert_eq!(fs::read_to_string(&file).expect("secret"), secret);
        let recorded: State =
            serde_json::from_str(&fs::read_to_string(&state).expect("state")).expect("json");
        assert_eq!(recorded.steps.len(), 1);
        fs::remove_dir_all(&root).expect("cleanup");
    }

    #[test]
    fn wireguard_keys_are_made_on_the_target_and_match() {
        if !crate::runner::on_path("wg") {
            eprintln!("SKIP: wg (wireguard-tools) is not installed; .ci/run installs it");
            return;
        }
        let root = scratch("wg");
        let runner = Runner::new(None, false).expect("runner");
        let steps = [
            step(Task::WireguardKey {
                base: "/etc/wireguard/wg0".into(),
            }),
            step(Task::WireguardKey {
                base: "/etc/wireguard/peers/phone.anna".into(),
            }),
        ];
        let state = root.join("state.json");
        run(&steps, &root, &state, &runner).expect("first run");
        let private = fs::read_to_string(root.join("etc/wireguard/wg0.key")).expect("key");
        let public = fs::read_to_string(root.join("etc/wireguard/wg0.pub")).expect("pub");
        let derived = runner
            .run_secret("wg", &["pubkey"], Some(private.trim()))
            .expect("wg pubkey");
        assert_eq!(derived.trim(), public.trim());
        let peer = root.join("etc/wireguard/peers/phone.anna.key");
        assert!(peer.is_file(), "a dotted peer name keeps its dot");
        let second = run(&steps, &root, &state, &runner).expect("second run");
        assert!(second.changed.is_empty());
        assert_eq!(
            fs::read_to_string(root.join("etc/wireguard/wg0.key")).expect("key"),
            private
        );
        fs::remove_dir_all(&root).expect("cleanup");
    }

    #[test]
    fn steps_not_built_are_reported_and_not_recorded() {
        let root = scratch("notbuilt");
        let state = root.join("state.json");
        let runner = Runner::new(None, false).expect("runner");
        let summary = run(&[step(Task::NotBuilt)], &root, &state, &runner).expect("run");
        assert_eq!(summary.not_built.len(), 1);
        assert!(summary.report().contains("not built yet, skipped"));
        let recorded: State =
            serde_json::from_str(&fs::read_to_string(&state).expect("state")).expect("json");
        assert!(recorded.steps.is_empty());
        fs::remove_dir_all(&root).expect("cleanup");
    }
}
