//! Docker with its zfs storage driver on the profile's dataset, and the
//! profile's compose apps, each run by hearth-compose@<app>.service with
//! secrets made at first boot. The compose unit and the ISO's Debian image
//! are in `guests`, which Incus and Proxmox share.

pub mod bridge;
pub mod provision;

use crate::guests;
use crate::keypath::KeyPath;
use crate::ports::Port;
use crate::profile::{Docker, Profile};
use crate::Kept;
use crate::{check, Context, File, FirstBootStep, Service, Task};
use hearth_schema::validate::{text, Findings};

pub const DAEMON: &str = "/etc/docker/daemon.json";

/// /var/lib/docker is a ZFS dataset, where overlayfs cannot keep its upper
/// layers: Docker's zfs driver makes each layer a dataset.
pub const DAEMON_JSON: &str = "{\n  \"storage-driver\": \"zfs\"\n}\n";

pub struct DockerEngine;

impl Service for DockerEngine {
    fn kept(&self, profile: &Profile) -> Vec<Kept> {
        let apps = profile.services.docker.iter().flat_map(|d| &d.apps);
        apps.filter(|a| !a.secrets.is_empty())
            .map(|a| {
                Kept::new(
                    std::path::Path::new(guests::SECRETS_DIR).join(&a.name),
                    "app secrets",
                )
            })
            .collect()
    }

    fn packages(&self, profile: &Profile) -> Vec<&'static str> {
        match profile.services.docker {
            // trixie ships the client apart from the daemon.
            Some(_) => vec!["docker.io", "docker-cli", "docker-compose"],
            None => Vec::new(),
        }
    }

    fn units(&self, profile: &Profile) -> Vec<String> {
        let Some(docker) = &profile.services.docker else {
            return Vec::new();
        };
        let apps = docker
            .apps
            .iter()
            .map(|app| format!("hearth-compose@{}.service", app.name));
        let guest_rules = bridge::unit(profile).map(|_| bridge::UNIT.to_string());
        std::iter::once("docker.service".to_string())
            .chain(guest_rules)
            .chain(apps)
            .collect()
    }

    fn files(&self, profile: &Profile) -> Vec<File> {
        let Some(docker) = &profile.services.docker else {
            return Vec::new();
        };
        // The unit template even without apps: it is how the admin adds one.
        let mut files = vec![
            File::public(DAEMON, DAEMON_JSON),
            File::public(guests::COMPOSE_UNIT, guests::compose_unit()),
        ];
        if let Some(unit) = bridge::unit(profile) {
            let path = format!("/etc/systemd/system/{}", bridge::UNIT);
            files.push(File::public(path, unit));
        }
        let drop_ins = docker.apps.iter().filter_map(guests::compose_drop_in);
        files.extend(drop_ins.map(|(path, text)| File::public(path, text)));
        files
    }

    fn ports(&self, profile: &Profile) -> Vec<Port> {
        let apps = profile.services.docker.iter().flat_map(|d| &d.apps);
        let mut ports = Vec::new();
        for (i, app) in apps.enumerate() {
            let owner = format!("docker app {}", app.name);
            for (j, port) in app.ports.iter().enumerate() {
                let key = format!("services.docker.apps[{i}].ports[{j}]");
                ports.push(Port::tcp(*port, &owner, key));
            }
        }
        ports
    }

    fn first_boot(&self, profile: &Profile) -> Vec<FirstBootStep> {
        // The ISO's Debian image even without apps: the admin's own apps
        // start from it on a server that may have no registry to pull from.
        let Some(docker) = &profile.services.docker else {
            return Vec::new();
        };
        let tag = guests::docker_tag(&profile.suite);
        let mut steps = vec![FirstBootStep::new(
            "docker",
            format!("import the ISO's Debian root filesystem as image {tag}"),
            Task::DockerImage {
                tag,
                rootfs: guests::image_file(guests::ROOTFS),
            },
        )];
        for app in &docker.apps {
            for secret in &app.secrets {
                steps.push(FirstBootStep::new(
                    "docker",
                    format!("generate secret {secret} of app {} (root only)", app.name),
                    Task::SecretFile {
                        path: guests::secret_path(&app.name, secret),
                    },
                ));
            }
        }
        steps
    }

    fn check(&self, profile: &Profile, ctx: &Context, out: &mut Findings) {
        let Some(docker) = &profile.services.docker else {
            return;
        };
        let at = KeyPath::root().key("services").key("docker");
        ctx.dataset(out, at.key("dataset"), &docker.dataset);
        let names = docker.apps.iter().map(|a| a.name.as_str());
        check::unique(out, &at.key("apps"), names, "app");
        check_apps(docker, ctx, &at.key("apps"), out);
    }
}

fn check_apps(docker: &Docker, ctx: &Context, at: &KeyPath, out: &mut Findings) {
    for (i, app) in docker.apps.iter().enumerate() {
        if !text::is_app_name(&app.name) {
            out.push(at.index(i).key("name"), text::APP_RULE);
        }
        if let Some(dataset) = &app.dataset {
            ctx.dataset(out, at.index(i).key("dataset"), dataset);
        }
        if !text::is_path(&app.compose_file) {
            out.push(at.index(i).key("compose-file"), text::PATH_RULE);
        }
        for (j, secret) in app.secrets.iter().enumerate() {
            if !is_file_name(secret) {
                out.push(
                    at.index(i).key("secrets").index(j),
                    format!("`{secret}`: a file name of letters, digits, '-', '_' and '.'"),
                );
            }
        }
    }
}

/// A secret becomes a file name under the app's secrets folder.
fn is_file_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}
