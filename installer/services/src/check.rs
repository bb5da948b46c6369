//! Services: what they point at must exist, and no two may share a port.

use std::collections::BTreeMap;
use std::path::Path;

use crate::datasets;
use crate::keypath::KeyPath;
use crate::ports;
use crate::profile::{Base, HypervisorKind, Profile};
use hearth_schema::validate::checks::{self, list, Findings};
use hearth_schema::validate::Finding;

/// The services' findings, for `load::profile_with`.
pub fn findings(profile: &Profile) -> Vec<Finding> {
    let mut out = Findings::default();
    check(&mut out, profile);
    out.0
}

pub fn check(out: &mut Findings, profile: &Profile) {
    let ctx = Context::new(profile);
    let key = KeyPath::root().key("services");
    let services = &profile.services;
    if let Some(samba) = &services.samba {
        let at = key.key("samba").key("shares");
        let mut names = Vec::new();
        for (i, share) in samba.shares.iter().enumerate() {
            if names.contains(&share.name.to_lowercase()) {
                out.push(
                    at.index(i).key("name"),
                    format!("share `{}` is defined twice", share.name),
                );
            }
            names.push(share.name.to_lowercase());
            ctx.path_on_dataset(out, at.index(i).key("path"), &share.path);
            for (j, user) in share.users.iter().enumerate() {
                ctx.user(out, at.index(i).key("users").index(j), user);
            }
            if share.time_machine_max_size.is_some() && !share.time_machine {
                out.push(
                    at.index(i).key("time-machine-max-size"),
                    "only used with time-machine = true",
                );
            }
        }
    }
    if let Some(nfs) = &services.nfs {
        let at = key.key("nfs").key("exports");
        for (i, export) in nfs.exports.iter().enumerate() {
            ctx.path_on_dataset(out, at.index(i).key("path"), &export.path);
            if export.clients.is_empty() {
                out.push(
                    at.index(i).key("clients"),
                    "name at least one client network, e.g. \"192.168.1.0/24\"",
                );
            }
            for (j, client) in export.clients.iter().enumerate() {
                if !checks::is_client(client) {
                    out.push(
                        at.index(i).key("clients").index(j),
                        format!("`{client}` is not a network, address or host name"),
                    );
                }
            }
        }
    }
    if let Some(docker) = &services.docker {
        let at = key.key("docker");
        ctx.dataset(out, at.key("dataset"), &docker.dataset);
        unique(
            out,
            &at.key("apps"),
            docker.apps.iter().map(|a| a.name.as_str()),
            "app",
        );
        for (i, app) in docker.apps.iter().enumerate() {
            if let Some(dataset) = &app.dataset {
                ctx.dataset(out, at.key("apps").index(i).key("dataset"), dataset);
            }
            if !app.compose_file.is_absolute() {
                out.push(
                    at.key("apps").index(i).key("compose-file"),
                    "must be an absolute path on the target",
                );
            }
            for (j, secret) in app.secrets.iter().enumerate() {
                let plain = !secret.is_empty()
                    && secret
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                    && !secret.starts_with('.');
                if !plain {
                    out.push(
                        at.key("apps").index(i).key("secrets").index(j),
                        format!("`{secret}`: a file name of letters, digits, '-', '_' and '.'"),
                    );
                }
            }
        }
    }
    if let Some(hypervisor) = &services.hypervisor {
        let at = key.key("hypervisor");
        match (profile.base, hypervisor.kind) {
            (Base::Debian, HypervisorKind::Proxmox) => out.push(
                at.key("kind"),
                "proxmox needs base = \"proxmox\"; on Debian, allowed: incus",
            ),
            (Base::Proxmox, HypervisorKind::Incus) => out.push(
                at.key("kind"),
                "on base = \"proxmox\" the hypervisor is proxmox; allowed: proxmox",
            ),
            _ => {}
        }
        ctx.dataset(out, at.key("dataset"), &hypervisor.dataset);
        let guests = hypervisor.containers.iter().chain(&hypervisor.vms);
        unique(out, &at, guests.map(|g| g.name.as_str()), "guest");
        for (kind, list) in [
            ("containers", &hypervisor.containers),
            ("vms", &hypervisor.vms),
        ] {
            for (i, guest) in list.iter().enumerate() {
                if !checks::is_hostname(&guest.name) {
                    out.push(at.key(kind).index(i).key("name"), checks::HOSTNAME_RULE);
                }
                if guest.cpus == 0 {
                    out.push(at.key(kind).index(i).key("cpus"), "must be at least 1");
                }
            }
        }
    }
    if let Some(wg) = &services.wireguard {
        let at = key.key("wireguard");
        if !checks::is_cidr(&wg.address) {
            out.push(
                at.key("address"),
                format!(
                    "`{}` is not an address with prefix such as 10.8.0.1/24",
                    wg.address
                ),
            );
        }
        unique(
            out,
            &at.key("peers"),
            wg.peers.iter().map(|p| p.name.as_str()),
            "peer",
        );
        for (i, peer) in wg.peers.iter().enumerate() {
            // The name becomes a file name and a word in wg-quick's PostUp.
            let safe = !peer.name.is_empty()
                && !peer.name.starts_with('.')
                && peer
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
            if !safe {
                out.push(
                    at.key("peers").index(i).key("name"),
                    format!(
                        "`{}`: use letters, digits, dots, dashes and underscores, not starting with a dot",
                        peer.name
                    ),
                );
            }
            if !checks::is_cidr(&peer.address) {
                out.push(
                    at.key("peers").index(i).key("address"),
                    format!(
                        "`{}` is not an address with prefix such as 10.8.0.2/32",
                        peer.address
                    ),
                );
            }
            if let Some(public) = &peer.public_key {
                if !checks::is_wireguard_key(public) {
                    out.push(
                        at.key("peers").index(i).key("public-key"),
                        "not a WireGuard key (44 characters of base64, from `wg pubkey`)",
                    );
                }
            }
        }
    }
    if let Some(syncthing) = &services.syncthing {
        let at = key.key("syncthing").key("users");
        for (i, user) in syncthing.users.iter().enumerate() {
            ctx.user(out, at.index(i).key("name"), &user.name);
            ctx.dataset(out, at.index(i).key("dataset"), &user.dataset);
        }
    }
    if let Some(snapshots) = &services.snapshots {
        let at = key.key("snapshots").key("policies");
        for (i, policy) in snapshots.policies.iter().enumerate() {
            for (j, dataset) in policy.datasets.iter().enumerate() {
                ctx.dataset_or_pool(out, at.index(i).key("datasets").index(j), dataset);
            }
        }
    }
    for (i, job) in services.replication.iter().enumerate() {
        let at = key.key("replication").index(i);
        ctx.dataset_or_pool(out, at.key("source"), &job.source);
        replication_target(out, &ctx, at.key("target"), &job.target);
    }
    if let Some(backup) = &services.cloud_backup {
        let at = key.key("cloud-backup");
        let schemes = ["s3:", "b2:", "rest:", "sftp:", "azure:", "gs:", "/"];
        if !schemes.iter().any(|s| backup.repository.starts_with(s)) {
            out.push(at.key("repository"), "allowed: s3:..., b2:..., rest:..., sftp:..., azure:..., gs:... or an absolute path");
        }
        for (i, path) in backup.paths.iter().enumerate() {
            if !path.is_absolute() {
                out.push(at.key("paths").index(i), "must be an absolute path");
            }
        }
    }
    if let Some(target) = &services.backup_target {
        let at = key.key("backup-target");
        if let Some(rest) = &target.rest_server {
            ctx.dataset(out, at.key("rest-server").key("dataset"), &rest.dataset);
            for (i, client) in rest.clients.iter().enumerate() {
                // A client is a user name in htpasswd and a folder of the repository.
                if !checks::is_username(client) {
                    out.push(
                        at.key("rest-server").key("clients").index(i),
                        format!(
                            "`{client}`: use lower-case letters, digits, dashes and underscores"
                        ),
                    );
                }
            }
        }
        if let Some(receive) = &target.zfs_receive {
            ctx.dataset(out, at.key("zfs-receive").key("dataset"), &receive.dataset);
            if !checks::is_username(&receive.user) || ctx.users.contains(&receive.user.as_str()) {
                out.push(
                    at.key("zfs-receive").key("user"),
                    "must be a valid user name not used by system.users",
                );
            }
            checks::ssh_keys(
                out,
                at.key("zfs-receive").key("ssh-keys"),
                &receive.ssh_keys,
            );
        }
    }
    for (i, net) in services.firewall.lan.iter().enumerate() {
        if !checks::is_cidr(net) {
            out.push(
                key.key("firewall").key("lan").index(i),
                format!("`{net}` is not a network such as 192.168.1.0/24"),
            );
        }
    }
    port_collisions(out, profile);
}

fn unique<'a>(out: &mut Findings, at: &KeyPath, names: impl Iterator<Item = &'a str>, what: &str) {
    let mut seen = Vec::new();
    for name in names {
        if seen.contains(&name) {
            out.push(at.clone(), format!("{what} `{name}` is defined twice"));
        }
        seen.push(name);
    }
}

struct Context<'a> {
    users: Vec<&'a str>,
    pools: Vec<&'a str>,
    mounts: BTreeMap<String, Option<std::path::PathBuf>>,
}

impl<'a> Context<'a> {
    fn new(profile: &'a Profile) -> Self {
        Context {
            users: profile
                .system
                .users
                .iter()
                .map(|u| u.name.as_str())
                .collect(),
            pools: profile
                .storage
                .pools
                .iter()
                .map(|p| p.name.as_str())
                .collect(),
            mounts: datasets::mountpoints(profile),
        }
    }

    fn user(&self, out: &mut Findings, key: KeyPath, name: &str) {
        if !self.users.contains(&name) {
            out.push(
                key,
                format!(
                    "no user `{name}` in system.users; allowed: {}",
                    list(&self.users)
                ),
            );
        }
    }

    fn dataset(&self, out: &mut Findings, key: KeyPath, name: &str) {
        if !self.mounts.contains_key(name) {
            let known: Vec<&str> = self.mounts.keys().map(String::as_str).collect();
            out.push(
                key,
                format!("no dataset `{name}`; allowed: {}", list(&known)),
            );
        }
    }

    fn is_dataset_or_pool(&self, name: &str) -> bool {
        self.pools.contains(&name) || self.mounts.contains_key(name)
    }

    fn dataset_or_pool(&self, out: &mut Findings, key: KeyPath, name: &str) {
        if !self.pools.contains(&name) {
            self.dataset(out, key, name);
        }
    }

    fn path_on_dataset(&self, out: &mut Findings, key: KeyPath, path: &Path) {
        if !path.is_absolute() {
            out.push(key, "must be an absolute path");
            return;
        }
        if datasets::holding(&self.mounts, path).is_none() {
            let mounted: Vec<String> = self
                .mounts
                .values()
                .filter_map(|m| m.as_ref().map(|m| m.display().to_string()))
                .filter(|m| m != "/")
                .collect();
            let mounted: Vec<&str> = mounted.iter().map(String::as_str).collect();
            out.push(
                key,
                format!(
                    "{} is on no dataset of the profile; allowed: a path below {}",
                    path.display(),
                    list(&mounted)
                ),
            );
        }
    }
}

fn port_collisions(out: &mut Findings, profile: &Profile) {
    let mut owners: BTreeMap<(ports::Proto, u16), String> = BTreeMap::new();
    for port in ports::listening(profile) {
        match owners.get(&(port.proto, port.number)) {
            Some(owner) if *owner != port.owner => out.push(
                KeyPath::parse(&port.key),
                format!(
                    "{} port {} is already used by {owner}",
                    port.proto, port.number
                ),
            ),
            _ => {
                owners.insert((port.proto, port.number), port.owner.clone());
            }
        }
    }
}

/// A local target is received into a new dataset under one the profile
/// makes; a remote one is `user@host:pool/dataset`.
fn replication_target(out: &mut Findings, ctx: &Context, key: KeyPath, target: &str) {
    if let Some((login, dataset)) = target.split_once(':') {
        let ok = login
            .split_once('@')
            .is_some_and(|(user, host)| !user.is_empty() && !host.is_empty())
            && dataset.contains('/');
        if !ok {
            out.push(
                key,
                format!("`{target}`: a remote target is user@host:pool/dataset"),
            );
        }
        return;
    }
    if ctx.is_dataset_or_pool(target) {
        out.push(
            key,
            format!("`{target}` is made by the profile; syncoid receives into a new dataset, e.g. `{target}/copy`"),
        );
        return;
    }
    match target.rsplit_once('/') {
        Some((parent, _)) if ctx.is_dataset_or_pool(parent) => {}
        _ => out.push(
            key,
            format!("`{target}`: its parent must be a pool or dataset of the profile"),
        ),
    }
}
