//! Every file in profiles/ is a set of install scenarios
//! (`profile_<name>_<case>`, made by build.rs): the profile's own ISO boots
//! on a test machine derived from its pools, installs with an answer
//! derived from its users and pools, and the installed system is checked
//! against its own plan: every pool healthy and laid out vdev by vdev as
//! planned, the system running with no failed unit, every unit of the plan
//! enabled, the firewall's table loaded when it has one; then every service
//! the profile enables from outside (`services::check_all`). Cases: `uefi` and
//! `bios` (a fresh install), `degraded` (the first root disk gone, where
//! the root pool has redundancy) and `reprovision` (a reinstall that keeps
//! the data pools and their files, where there are any); the services are
//! checked in every case. They are long:
//! they run only with HEARTH_PROFILE_SCENARIOS=1, by name or through
//! `cargo run --release -p qemu-tests --example matrix`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use hearth_schema::profile::{KeySource, PoolRole, Profile, Topology};
use qemu_tests::machine::{Builder, Disk, Firmware, Machine, Medium};
use qemu_tests::ssh;
use qemu_tests::test_machine::{self, PASSPHRASE};
use qemu_tests::{budget, layout};

use super::services::{self, Forwards};
use super::{install_done, Scenario};

mod layouts;
use layouts::layout;

mod generated {
    include!(concat!(env!("OUT_DIR"), "/profiles.rs"));
}

/// Service checks a profile's `.test.toml` leaves out, with the reason.
type Skip = std::collections::BTreeMap<String, String>;

const ROOT_PROMPT: &str = "Encrypted ZFS passphrase for";
/// Where a case that does not apply to a profile says so (the matrix reads it).
pub const NOT_APPLICABLE: &str = "not-applicable.txt";

fn scenario(name: &str, case: &str) {
    let test = format!("profile-{name}-{case}");
    if !wanted(&test) {
        return;
    }
    let profile = test_machine::load_profile(name).expect("the profile loads");
    if let Some(why) = not_applicable(&profile, case) {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../target/qemu-tests")
            .join(&test);
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join(NOT_APPLICABLE), format!("{why}\n")).expect("n/a");
        eprintln!("{test}: does not apply: {why}");
        return;
    }
    let Some(mut scenario) = Scenario::with_iso(&test, minutes(&profile, case), name) else {
        return;
    };
    let path = image_builder::build::default_workspace()
        .join("profiles")
        .join(format!("{name}.toml"));
    let machine = test_machine::sidecar(&path, services::CHECKS).expect("the profile's .test.toml");
    let disks: Vec<(String, Disk)> = test_machine::disks_by_pool(&profile, &scenario.dir, "disk")
        .expect("the test machine")
        .into_iter()
        .map(|(pool, disk)| (pool, disk.sector(machine.sector)))
        .collect();
    let firmware = if case == "bios" {
        Firmware::Bios
    } else {
        Firmware::Uefi
    };
    let (top, user) = services::answer_lines(&profile, &scenario.public);
    let answer =
        test_machine::answer_with(&profile, &test, &scenario.public, "poweroff", (&top, &user));
    let all: Vec<&Disk> = disks.iter().map(|(_, d)| d).collect();
    let medium = if machine.usb {
        Medium::UsbStick
    } else {
        Medium::Cdrom
    };
    install(
        &mut scenario,
        &Unattended::new(&answer, (firmware, medium)),
        &all,
    );
    let skip = &machine.skip;
    match case {
        "degraded" => degraded(&mut scenario, &profile, &disks, skip),
        "reprovision" => reprovision(&mut scenario, (&profile, &answer), &disks, skip),
        _ => {
            let (mut server, port, forwards) =
                boot(&mut scenario, "first-boot", (firmware, &profile), &all);
            check(&scenario, port);
            let run = services::Run {
                forwards: &forwards,
                second_machine: true,
                skip,
            };
            services::check_all(&mut scenario, port, &profile, &run);
            server.kill();
        }
    }
    scenario.report();
}

/// Whether to run a scenario made from a file: asked for with
/// HEARTH_PROFILE_SCENARIOS=1 (by name or by the matrix), or CI's pick
/// (`budget::picked`: touched by the last commit, or today's rotation).
pub fn wanted(test: &str) -> bool {
    let asked = std::env::var_os("HEARTH_PROFILE_SCENARIOS").is_some();
    let in_ci = std::env::var_os("HEARTH_CI_DEADLINE").is_some();
    if asked || (in_ci && budget::picked(test)) {
        return true;
    }
    eprintln!("skipped {test}: set HEARTH_PROFILE_SCENARIOS=1 (or run the matrix example)");
    false
}

/// About how long a case takes under TCG here, for CI's budget: an
/// install and a boot, a few minutes per service checked, twice over for a
/// reinstall.
fn minutes(profile: &Profile, case: &str) -> u64 {
    let s = &profile.services;
    let sections = [
        s.samba.is_some(),
        s.nfs.is_some(),
        s.docker.is_some(),
        s.hypervisor.is_some(),
        s.wireguard.is_some(),
        s.syncthing.is_some(),
        s.snapshots.is_some(),
        !s.replication.is_empty(),
        s.cloud_backup.is_some(),
        s.backup_target.is_some(),
        s.firewall.enabled,
    ];
    let once = 12 + 3 * sections.iter().filter(|on| **on).count() as u64;
    if case == "reprovision" {
        2 * once
    } else {
        once
    }
}

fn root_pool(profile: &Profile) -> &hearth_schema::profile::Pool {
    profile
        .storage
        .pools
        .iter()
        .find(|p| p.role == PoolRole::Root)
        .expect("a root pool")
}

fn not_applicable(profile: &Profile, case: &str) -> Option<String> {
    let root = root_pool(profile);
    match case {
        "degraded" if root.topology == Topology::Stripe || root.disks.count < 2 => {
            Some("the root pool has no redundancy".into())
        }
        "reprovision"
            if !profile
                .storage
                .pools
                .iter()
                .any(|p| p.role == PoolRole::Data) =>
        {
            Some("no data pool to keep".into())
        }
        _ => None,
    }
}

/// An unattended install: the scenario's ISO with an answer on it.
pub struct Unattended<'a> {
    /// Names the installing machine, its files and its phase.
    pub name: &'a str,
    pub answer: &'a str,
    /// Files laid on the medium beside the answer (a layout's profile).
    pub beside: &'a [&'a Path],
    pub firmware: Firmware,
    pub medium: Medium,
}

impl<'a> Unattended<'a> {
    pub fn new(answer: &'a str, (firmware, medium): (Firmware, Medium)) -> Self {
        Unattended {
            name: "install",
            answer,
            beside: &[],
            firmware,
            medium,
        }
    }
}

/// The ISO with the answer injected installs on `disks`.
pub fn install(scenario: &mut Scenario, how: &Unattended, disks: &[&Disk]) {
    let name = how.name;
    let path = scenario.dir.join(format!("{name}.answer.toml"));
    std::fs::write(&path, how.answer).expect("answer");
    let unattended = scenario.dir.join(format!("{name}.iso"));
    image_builder::inject::inject_with(&scenario.iso, &path, how.beside, &unattended)
        .expect("inject the answer");
    let started = Instant::now();
    let mut builder = Builder::new(name, &scenario.dir)
        .firmware(how.firmware)
        .memory(3072)
        .iso(&unattended, how.medium);
    for disk in disks {
        builder = builder.disk(disk);
    }
    install_done(builder.start(scenario.accel).expect("qemu"), &scenario.dir);
    scenario.phase(name, started);
}

/// MiB for the installed server: its services, and room for every VM of
/// the profile to start beside them, as a hypervisor has.
pub fn machine_memory(profile: &Profile) -> u32 {
    let vms: u64 = profile
        .services
        .hypervisor
        .iter()
        .flat_map(|h| &h.vms)
        .map(|vm| vm.memory.0 >> 20)
        .sum();
    u32::try_from(2560 + vms).unwrap_or(u32::MAX).max(3072)
}

/// Boots from the disks on the profile's test network, with the ports its
/// services' checks reach forwarded; types the root pool's passphrase when
/// asked.
pub fn boot(
    scenario: &mut Scenario,
    name: &str,
    (firmware, profile): (Firmware, &Profile),
    disks: &[&Disk],
) -> (Machine, u16, Forwards) {
    let started = Instant::now();
    let port = ssh::free_port().expect("port");
    let mut builder = Builder::new(name, &scenario.dir)
        .firmware(firmware)
        .memory(machine_memory(profile))
        .ssh_forward(port);
    if let Some(network) = test_machine::network(profile) {
        builder = builder.network(&network);
    }
    let mut forwards = Vec::new();
    for (proto, guest) in services::wanted(profile) {
        let host = ssh::free_port().expect("port");
        builder = match proto {
            "udp" => builder.forward_udp(host, guest),
            _ => builder.forward(host, guest),
        };
        forwards.push((proto, guest, host));
    }
    for disk in disks {
        builder = builder.disk(disk);
    }
    let mut server = builder.start(scenario.accel).expect("qemu");
    let first = server
        .wait_for_boot(&format!("{ROOT_PROMPT}|login:"), server.scaled(90))
        .expect("the installed system boots");
    if first.starts_with(ROOT_PROMPT) {
        server.send(&format!("{PASSPHRASE}\n")).expect("passphrase");
        server
            .wait_for_console("login:", server.scaled(90))
            .expect("a login prompt");
    }
    ssh::wait(&scenario.key, port, "root", server.scaled(30)).expect("ssh as root");
    scenario.phase(name, started);
    (server, port, Forwards(forwards))
}

/// The failed units `systemctl --failed --plain` listed after the state.
fn failed_units(state: &str) -> Vec<&str> {
    state
        .lines()
        .skip(1)
        .filter_map(|line| line.split_whitespace().next())
        .collect()
}

/// Whether `unit` is a compose app that failed only because its images
/// come from Docker Hub, which a test machine cannot reach (the ISO
/// carries Hearth's own image, not an app's).
fn offline_pull(scenario: &Scenario, port: u16, unit: &str) -> bool {
    if !unit.starts_with("hearth-compose@") {
        return false;
    }
    let said = scenario.root(
        port,
        &format!(
            "journalctl -b -u '{unit}' --no-pager -o cat | grep -m1 'registry-1.docker.io' || true"
        ),
    );
    if said.trim().is_empty() {
        return false;
    }
    eprintln!(
        "{unit} failed pulling its images, as it must with no registry: {}",
        said.trim()
    );
    true
}

/// A pool's vdevs as ZFS has them.
fn layout_of(scenario: &Scenario, port: u16, pool: &str) -> Vec<layout::Vdev> {
    let status = scenario.root(port, &format!("zpool status -j -P {pool}"));
    layout::actual(&status, pool).expect("actual layout")
}

/// The installed system against its own plan.
pub fn check(scenario: &Scenario, port: u16) {
    assert_eq!(
        scenario.root(port, "zpool status -x").trim(),
        "all pools are healthy"
    );
    let plan = scenario.root(port, "cat /etc/hearth/plan.json");
    let plan_json: serde_json::Value = serde_json::from_str(&plan).expect("plan.json");
    for pool in plan_json["pools"].as_array().into_iter().flatten() {
        let name = pool["name"].as_str().unwrap_or_default();
        let got = layout_of(scenario, port, name);
        if pool["action"] == "import" {
            // Kept as it was: the reprovision case compares it with itself
            // before the reinstall.
            assert!(!got.is_empty(), "kept pool {name} imported");
            continue;
        }
        let want = layout::planned(&plan, name).expect("planned layout");
        assert_eq!(
            got, want,
            "pool {name}: as ZFS has it (left) and as planned (right)"
        );
    }
    let state = scenario.root(
        port,
        "timeout 900 systemctl is-system-running --wait || systemctl --failed --no-legend --plain",
    );
    let failed = failed_units(&state);
    let explained = failed.iter().all(|unit| offline_pull(scenario, port, unit));
    assert!(
        state.trim() == "running" || (!failed.is_empty() && explained),
        "the system is running, no unit failed (but an app whose images no registry here serves):\n{state}"
    );
    let units = plan_json["units"].as_array().into_iter().flatten();
    for unit in units.filter_map(|u| u.as_str()) {
        let enabled = scenario.root(port, &format!("systemctl is-enabled {unit} || true"));
        assert!(
            ["enabled", "static", "alias", "indirect", "generated"].contains(&enabled.trim()),
            "{unit} of the plan is {enabled}"
        );
    }
    let files = plan_json["files"].as_array().into_iter().flatten();
    if files
        .filter_map(|f| f["path"].as_str())
        .any(|p| p.contains("nftables"))
    {
        scenario.root(port, "nft list tables | grep -q hearth");
    }
}

/// The first root disk gone: the rest boot, the root pool says DEGRADED.
/// The services still serve: a NAS with a dead disk stays a NAS.
fn degraded(scenario: &mut Scenario, profile: &Profile, disks: &[(String, Disk)], skip: &Skip) {
    let root = &root_pool(profile).name;
    let first_root = disks
        .iter()
        .position(|(p, _)| p == root)
        .expect("a root disk");
    let rest: Vec<&Disk> = disks
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != first_root)
        .map(|(_, (_, d))| d)
        .collect();
    let (mut server, port, forwards) = boot(scenario, "degraded", (Firmware::Uefi, profile), &rest);
    let health = scenario.root(port, &format!("zpool list -H -o health {root}"));
    assert_eq!(health.trim(), "DEGRADED");
    // Its first boot: the checks read what provisioning makes.
    let provisioned = scenario.root(port, super::FIRSTBOOT_DONE);
    assert_eq!(
        provisioned.trim(),
        "active",
        "first-boot provisioning: {provisioned}"
    );
    assert!(!scenario
        .root(port, "findmnt -n -o SOURCE /")
        .trim()
        .is_empty());
    let run = services::Run {
        forwards: &forwards,
        second_machine: false,
        skip,
    };
    services::check_all(scenario, port, profile, &run);
    server.kill();
}

/// Whether the pool is encrypted with a key in a file (made on the server
/// or given), rather than a passphrase the answer already gives.
fn key_in_a_file(profile: &Profile, pool: &str) -> bool {
    profile
        .storage
        .pools
        .iter()
        .filter(|p| p.name == pool)
        .filter_map(|p| p.encryption.as_ref())
        .any(|e| e.key != KeySource::Passphrase)
}

/// The pool's key as its admin keeps it off the server: the file its
/// `keylocation` names, for the medium beside the reinstall's answer.
/// Returns the answer's line for it and the saved file.
fn save_key(scenario: &Scenario, port: u16, pool: &str) -> (String, PathBuf) {
    let location = scenario.root(port, &format!("zfs get -H -o value keylocation {pool}"));
    let Some(path) = location.trim().strip_prefix("file://") else {
        panic!("{pool}'s key is not in a file: {location}");
    };
    let key = scenario.file_bytes(port, path);
    assert_eq!(key.len(), 32, "{pool}'s key is a raw 32-byte key");
    let name = format!("{pool}.key");
    let saved = scenario.dir.join(&name);
    std::fs::write(&saved, key).expect("the saved key");
    (format!("key-file = \"{name}\"\n"), saved)
}

/// `keep = true` (and `lines`) in the answer's table for the pool, which
/// a passphrase may have started already.
fn keep_pool(answer: &mut String, pool: &str, lines: &str) {
    let header = format!("\n[pools.{pool}]\n");
    let keep = format!("keep = true\n{lines}");
    match answer.find(&header) {
        Some(at) => answer.insert_str(at + header.len(), &keep),
        None => answer.push_str(&format!("{header}{keep}")),
    }
}

/// A file on every data pool; a reinstall that keeps them (root disks
/// wiped by serial); the files are there, the system passes its checks and
/// its services serve again.
fn reprovision(
    scenario: &mut Scenario,
    (profile, answer): (&Profile, &str),
    disks: &[(String, Disk)],
    skip: &Skip,
) {
    let all: Vec<&Disk> = disks.iter().map(|(_, d)| d).collect();
    let data: Vec<&str> = profile
        .storage
        .pools
        .iter()
        .filter(|p| p.role == PoolRole::Data)
        .map(|p| p.name.as_str())
        .collect();
    let (mut server, port, _) = boot(scenario, "first-boot", (Firmware::Uefi, profile), &all);
    let mut before = Vec::new();
    let mut again = answer.to_string();
    let mut keys = Vec::new();
    for pool in &data {
        scenario.root(port, &format!("echo kept-{pool} > \"$(zfs get -H -o value mountpoint {pool})/hearth-kept\" && zpool sync {pool}"));
        before.push(layout_of(scenario, port, pool));
        let line = match key_in_a_file(profile, pool) {
            true => {
                let (line, saved) = save_key(scenario, port, pool);
                keys.push(saved);
                line
            }
            false => String::new(),
        };
        keep_pool(&mut again, pool, &line);
    }
    scenario.root(port, "sync");
    server.kill();
    let root = &root_pool(profile).name;
    for (_, disk) in disks.iter().filter(|(p, _)| p == root) {
        again.push_str(&format!("\n[disks.\"{}\"]\nwipe = true\n", disk.serial));
    }
    let beside: Vec<&Path> = keys.iter().map(PathBuf::as_path).collect();
    let how = Unattended {
        beside: &beside,
        ..Unattended::new(&again, (Firmware::Uefi, Medium::Cdrom))
    };
    install(scenario, &how, &all);
    let (mut server, port, forwards) =
        boot(scenario, "reprovisioned", (Firmware::Uefi, profile), &all);
    for pool in &data {
        let kept = scenario.root(
            port,
            &format!("cat \"$(zfs get -H -o value mountpoint {pool})/hearth-kept\""),
        );
        assert_eq!(
            kept.trim(),
            format!("kept-{pool}"),
            "the file on {pool} came through the reinstall"
        );
    }
    for (pool, was) in data.iter().zip(&before) {
        assert_eq!(
            &layout_of(scenario, port, pool),
            was,
            "{pool} kept as it was"
        );
    }
    check(scenario, port);
    let run = services::Run {
        forwards: &forwards,
        second_machine: false,
        skip,
    };
    services::check_all(scenario, port, profile, &run);
    server.kill();
}
