//! Guests and apps: the Debian image the builder makes with mmdebstrap
//! (carried on the ISO, so containers and apps start offline), Incus
//! guests made from it at first boot, and compose apps run by
//! hearth-compose@.service.

use std::path::{Path, PathBuf};

use crate::check::{self, Context};
use crate::keypath::KeyPath;
use crate::profile::{ComposeApp, Guest, Hypervisor, Profile};
use hearth_schema::validate::{text, Findings};

/// Where the image's files are on the ISO, and on the installed system.
pub const ON_ISO: &str = "hearth/images";
pub const DIR: &str = "/var/lib/hearth/images";
/// Incus's split image: metadata, and the root filesystem, which is also
/// what `docker import` takes.
pub const METADATA: &str = "metadata.tar.gz";
pub const ROOTFS: &str = "rootfs.tar.gz";
pub const DOCKER_TAG_PREFIX: &str = "hearth/debian";

/// Compose apps shipped with Hearth (Nextcloud), laid into
/// /usr/share/hearth/apps on the live system and the installed one.
pub const SHIPPED_APPS: &str = "/usr/share/hearth/apps";
/// Where an app's compose file is unless the profile says otherwise.
pub const COMPOSE_DIR: &str = "/etc/hearth/compose";
/// Secrets made for an app at first boot: /etc/hearth/apps/<app>/<name>.
pub const SECRETS_DIR: &str = "/etc/hearth/apps";
pub const COMPOSE_UNIT: &str = "/etc/systemd/system/hearth-compose@.service";

/// Debian's release number, as image aliases name it ("debian/13").
pub fn release(suite: &str) -> &str {
    match suite {
        "bookworm" => "12",
        "trixie" => "13",
        "forky" => "14",
        other => other,
    }
}

pub fn incus_alias(suite: &str) -> String {
    format!("debian/{}", release(suite))
}

pub fn docker_tag(suite: &str) -> String {
    format!("{DOCKER_TAG_PREFIX}:{}", release(suite))
}

/// Whether the ISO must carry the image: containers of it, or Docker.
pub fn image_needed(profile: &Profile) -> bool {
    let s = &profile.services;
    let local = incus_alias(&profile.suite);
    let containers = s
        .hypervisor
        .as_ref()
        .is_some_and(|h| h.containers.iter().any(|g| g.image == local));
    containers || s.docker.is_some()
}

pub fn image_file(name: &str) -> PathBuf {
    Path::new(DIR).join(name)
}

/// `incus launch`/`incus init` arguments for a guest. A VM named after the
/// builder's container image gets an empty disk: the image holds no VM
/// disk, so an OS is installed into it from an ISO.
pub fn incus_create_args(guest: &Guest, vm: bool, local_alias: &str) -> Vec<String> {
    let mut args: Vec<String> = Vec::new();
    if vm {
        args.push("init".into());
        if guest.image == local_alias {
            args.push("--empty".into());
        } else {
            args.push(guest.image.clone());
        }
        args.push(guest.name.clone());
        args.push("--vm".into());
    } else {
        args.extend(["launch".into(), guest.image.clone(), guest.name.clone()]);
    }
    let mib = |b: u64| format!("{}MiB", b / crate::size::MIB);
    args.extend([
        "-c".into(),
        format!("limits.cpu={}", guest.cpus),
        "-c".into(),
        format!("limits.memory={}", mib(guest.memory.0)),
        "-c".into(),
        format!("boot.autostart={}", guest.autostart),
    ]);
    if let Some(disk) = &guest.disk {
        args.extend(["-d".into(), format!("root,size={}", mib(disk.0))]);
    }
    args
}

/// The template every app runs under: `docker compose up` in the compose
/// file's folder, `down` on stop. Images already present (imported from
/// the ISO) are not pulled.
pub fn compose_unit() -> String {
    format!(
        "# Written by the Hearth installer for [[services.docker.apps]].\n\
         # An app of your own: put its compose.yaml in {COMPOSE_DIR}/<name>/ and\n\
         # systemctl enable --now hearth-compose@<name>.service\n\
         [Unit]\n\
         Description=docker compose app %i (Hearth)\n\
         Requires=docker.service\n\
         Wants=network-online.target hearth-firstboot.service\n\
         After=docker.service network-online.target zfs-mount.service hearth-firstboot.service\n\n\
         [Service]\n\
         Type=oneshot\n\
         RemainAfterExit=yes\n\
         Environment=COMPOSE_FILE={COMPOSE_DIR}/%i/compose.yaml\n\
         WorkingDirectory={COMPOSE_DIR}/%i\n\
         ExecStart=/usr/bin/docker compose --project-name %i up --detach --remove-orphans --pull missing\n\
         ExecStop=/usr/bin/docker compose --project-name %i down\n\
         TimeoutStartSec=20min\n\n\
         [Install]\n\
         WantedBy=multi-user.target\n"
    )
}

/// A drop-in for an app whose compose file is elsewhere (a shipped app).
pub fn compose_drop_in(app: &ComposeApp) -> Option<(String, String)> {
    let default = Path::new(COMPOSE_DIR).join(&app.name).join("compose.yaml");
    if app.compose_file == default {
        return None;
    }
    let dir = app.compose_file.parent().unwrap_or(Path::new("/"));
    Some((
        format!(
            "/etc/systemd/system/hearth-compose@{}.service.d/hearth.conf",
            app.name
        ),
        format!(
            "# Written by the Hearth installer: {}'s compose file.\n\
             [Service]\n\
             {}\n\
             WorkingDirectory={}\n",
            app.name,
            crate::unit::environment("COMPOSE_FILE", &app.compose_file.display().to_string()),
            dir.display()
        ),
    ))
}

pub fn secret_path(app: &str, secret: &str) -> PathBuf {
    Path::new(SECRETS_DIR).join(app).join(secret)
}

/// The checks of the hypervisor section that hold for Incus and Proxmox alike.
pub fn check_hypervisor(hypervisor: &Hypervisor, ctx: &Context, at: &KeyPath, out: &mut Findings) {
    ctx.dataset(out, at.key("dataset"), &hypervisor.dataset);
    let all = hypervisor.containers.iter().chain(&hypervisor.vms);
    check::unique(out, at, all.map(|g| g.name.as_str()), "guest");
    for (kind, list) in [
        ("containers", &hypervisor.containers),
        ("vms", &hypervisor.vms),
    ] {
        for (i, guest) in list.iter().enumerate() {
            if !text::is_guest_name(&guest.name) {
                out.push(at.key(kind).index(i).key("name"), text::GUEST_RULE);
            }
            if !is_image(&guest.image) {
                out.push(at.key(kind).index(i).key("image"), IMAGE_RULE);
            }
            if guest.cpus == 0 {
                out.push(at.key(kind).index(i).key("cpus"), "must be at least 1");
            }
        }
    }
}

const IMAGE_RULE: &str = "must be an image alias or template such as debian/13 or images:debian/13: letters, digits and . _ - / : only, not starting with -";

/// An image name, passed as one argument (never through a shell).
fn is_image(image: &str) -> bool {
    !image.is_empty()
        && image.len() <= 256
        && !image.starts_with('-')
        && image
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/:".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::size::Bytes;

    fn guest(image: &str) -> Guest {
        Guest {
            name: "vm1".into(),
            image: image.into(),
            cpus: 2,
            memory: Bytes(1024 * crate::size::MIB),
            disk: Some(Bytes(8192 * crate::size::MIB)),
            autostart: false,
        }
    }

    #[test]
    fn a_container_is_launched_with_the_profiles_limits() {
        let args = incus_create_args(&guest("debian/13"), false, "debian/13");
        assert_eq!(
            args.join(" "),
            "launch debian/13 vm1 -c limits.cpu=2 -c limits.memory=1024MiB -c boot.autostart=false -d root,size=8192MiB"
        );
    }

    #[test]
    fn a_vm_of_the_local_container_image_gets_an_empty_disk() {
        let local = incus_create_args(&guest("debian/13"), true, "debian/13");
        assert_eq!(&local[..4], ["init", "--empty", "vm1", "--vm"]);
        let remote = incus_create_args(&guest("images:debian/13"), true, "debian/13");
        assert_eq!(&remote[..4], ["init", "images:debian/13", "vm1", "--vm"]);
    }

    #[test]
    fn only_apps_elsewhere_get_a_drop_in() {
        let app = |path: &str| ComposeApp {
            name: "nextcloud".into(),
            compose_file: path.into(),
            ports: vec![],
            dataset: None,
            secrets: vec![],
        };
        assert!(compose_drop_in(&app("/etc/hearth/compose/nextcloud/compose.yaml")).is_none());
        let (path, text) = compose_drop_in(&app("/usr/share/hearth/apps/nextcloud/compose.yaml"))
            .expect("drop-in");
        assert_eq!(
            path,
            "/etc/systemd/system/hearth-compose@nextcloud.service.d/hearth.conf"
        );
        assert!(text.contains("WorkingDirectory=/usr/share/hearth/apps/nextcloud\n"));
    }

    #[test]
    fn image_names_follow_debians_release_numbers() {
        assert_eq!(incus_alias("trixie"), "debian/13");
        assert_eq!(docker_tag("bookworm"), "hearth/debian:12");
    }
}
