//! `base = "proxmox"` built and installed against a stand-in for the
//! Proxmox VE repository (`qemu_tests::pve_standin`: Proxmox's package
//! names and dependency shapes, a kernel that carries ZFS, served from the
//! host and signed by a key made here). The image has one kernel, the
//! stand-in's, no zfs-dkms, no os-prober, the repository pinned with its
//! key; the installed server boots that kernel, runs the Proxmox steps of
//! its first boot, and its web UI's port answers the LAN only.

use std::path::Path;
use std::process::Command;

use image_builder::cache::Cache;
use qemu_tests::machine::{Disk, Firmware, Medium};
use qemu_tests::pve_standin::{self, StandIn, WEB_UI_LINE};
use qemu_tests::sinks::Sink;
use qemu_tests::{iso, probe, test_machine};

use super::profiles;
use super::services::{self, net};
use super::Scenario;

/// The profile: a Proxmox base on one disk, guests on rpool, a LAN that
/// holds QEMU's user network.
fn profile_text(url: &str, standin: &StandIn) -> String {
    format!(
        "name = \"proxmox-standin\"\n\
         description = \"Proxmox VE on a stand-in repository\"\n\
         base = \"proxmox\"\n\n\
         [proxmox]\n\
         url = \"{url}/{path}\"\n\
         key-url = \"{url}/{key}\"\n\
         key-sha256 = \"{sha}\"\n\n\
         [system]\nhostname = \"pve\"\nroot-login = \"key-only\"\n\n\
         [[system.users]]\nname = \"admin\"\npassword = \"ask\"\ngroups = [\"sudo\"]\n\n\
         [network]\nbridge = \"vmbr0\"\n\n\
         [[storage.pools]]\nname = \"rpool\"\nrole = \"root\"\ntopology = \"stripe\"\ndisks = {{ count = 1 }}\n\n\
         [[storage.datasets]]\nname = \"rpool/guests\"\nmountpoint = \"none\"\n\n\
         [services.hypervisor]\nkind = \"proxmox\"\ndataset = \"rpool/guests\"\n\n\
         [services.firewall]\nlan = [\"10.0.2.0/24\"]\n",
        path = pve_standin::PATH,
        key = pve_standin::KEY_FILE,
        sha = standin.key_sha256,
    )
}

#[test]
fn proxmox_standin() {
    // The minimal ISO's build leaves Debian's kernel package and its zfs
    // module in the cache, which the stand-in's kernel is made from.
    let Some(mut scenario) = Scenario::with_iso("proxmox-standin", 30, "minimal") else {
        return;
    };
    let minimal = manifest(&scenario.iso);
    let kernel = minimal["kernel"].as_str().expect("the kernel").to_string();
    let www = scenario.dir.join("www");
    let standin = pve_standin::build(
        &www,
        &scenario.dir.join("standin"),
        &Cache::default_root(),
        &kernel,
    )
    .expect("the stand-in repository");
    let server = Sink::http(Some(www)).expect("the repository's server");
    let url = format!("http://127.0.0.1:{}", server.port);
    let path = scenario.dir.join("proxmox-standin.toml");
    std::fs::write(&path, profile_text(&url, &standin)).expect("profile");
    let built = iso::built_from(&path, "proxmox-standin").expect("the Proxmox base builds");
    image_checks(&built, &kernel, &standin);

    let profile = hearth_schema::load::profile_with(&path, |_| Vec::new())
        .map_err(|p| p.to_string())
        .expect("the profile loads")
        .value;
    scenario.iso = built;
    let disk = Disk::blank(&scenario.dir, "pve-disk", 8).expect("disk");
    let answer = test_machine::answer_text(&profile, "pve", &scenario.public, "poweroff");
    let how = profiles::Unattended::new(&answer, (Firmware::Uefi, Medium::Cdrom));
    profiles::install(&mut scenario, &how, &[&disk]);
    let (mut machine, port, forwards) = profiles::boot(
        &mut scenario,
        "first-boot",
        (Firmware::Uefi, &profile),
        &[&disk],
    );
    assert_eq!(scenario.root(port, "uname -r").trim(), kernel);
    let modules = scenario.root(port, "modinfo -n zfs");
    assert!(
        modules.contains("/zfs/zfs.ko"),
        "ZFS from the kernel package: {modules}"
    );
    profiles::check(&scenario, port);
    let steps = scenario.root(port, "cat /var/log/pve-standin.log");
    assert!(
        steps.contains("pvesm add zfspool hearth --pool rpool/guests"),
        "first boot made the storage: {steps}"
    );
    assert!(probe::first_line(
        forwards.tcp(net::WEB_UI),
        std::time::Duration::from_secs(10)
    )
    .contains(WEB_UI_LINE));
    let run = services::Run {
        forwards: &forwards,
        second_machine: false,
        skip: &Default::default(),
    };
    services::check_all(&mut scenario, port, &profile, &run);
    machine.kill();
    scenario.report();
}

fn manifest(iso: &Path) -> serde_json::Value {
    let path = iso.with_extension("manifest.json");
    let text = std::fs::read_to_string(&path).expect("the ISO's manifest");
    serde_json::from_str(&text).expect("manifest JSON")
}

/// One kernel, the stand-in's, carrying ZFS; no zfs-dkms, DKMS or
/// os-prober; the repository with its key and the pin in the base layer.
fn image_checks(built: &Path, kernel: &str, standin: &StandIn) {
    let manifest = manifest(built);
    assert_eq!(manifest["kernel"].as_str(), Some(kernel));
    let packages = manifest["packages"].as_object().expect("packages");
    let standin_kernel = format!("proxmox-kernel-{kernel}-standin");
    for wanted in [
        "proxmox-ve",
        "proxmox-default-kernel",
        "pve-manager",
        "chrony",
        &standin_kernel,
    ] {
        assert!(packages.contains_key(wanted), "{wanted} is in the image");
    }
    for unwanted in [
        "zfs-dkms",
        "dkms",
        "linux-image-amd64",
        "os-prober",
        "systemd-timesyncd",
    ] {
        assert!(
            !packages.contains_key(unwanted),
            "{unwanted} is not in the image"
        );
    }
    let base = built.with_file_name("00-base.squashfs");
    let out = Command::new("xorriso")
        .args(["-osirrox", "on", "-indev"])
        .arg(built)
        .args(["-extract", "/live/00-base.squashfs"])
        .arg(&base)
        .output()
        .expect("xorriso");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listing = Command::new("unsquashfs")
        .arg("-l")
        .arg(&base)
        .output()
        .expect("unsquashfs");
    let listing = String::from_utf8_lossy(&listing.stdout);
    let kernels: Vec<&str> = listing
        .lines()
        .filter(|l| l.contains("/boot/vmlinuz-"))
        .collect();
    assert_eq!(kernels.len(), 1, "one kernel: {kernels:?}");
    assert!(
        listing.contains(&format!("/usr/lib/modules/{kernel}/zfs/zfs.ko")),
        "ZFS in the kernel package"
    );
    let cat = |file: &str| {
        let out = Command::new("unsquashfs")
            .args(["-cat"])
            .arg(&base)
            .arg(file)
            .output()
            .expect("unsquashfs -cat");
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let sources = cat("etc/apt/sources.list.d/proxmox.sources");
    assert!(
        sources.contains(&standin.key_sha256) && sources.contains("BEGIN PGP PUBLIC KEY BLOCK"),
        "{sources}"
    );
    assert!(
        sources.contains("Components: pve-no-subscription"),
        "{sources}"
    );
    let pin = cat("etc/apt/preferences.d/proxmox.pref");
    assert!(
        pin.contains("Pin-Priority: 700") && pin.contains("Package: os-prober"),
        "{pin}"
    );
    let _ = std::fs::remove_file(&base);
}
