//! Upgrades that can be undone, from outside: a storage server (root
//! mirror, raidz tank) whose apt sources name a repository the test
//! serves. apt's hook snapshots the system; `hearth upgrade` upgrades a
//! clone into a new boot environment that boots next; the old one is
//! picked in GRUB's menu over the serial console and boots as it was;
//! `hearth rollback` makes it the default on every ESP, and the second
//! disk alone boots it too; an initramfs update reaches every ESP, with a
//! disk missing and once it is back; an upgrade that never reaches
//! multi-user falls back by itself. Files written after the snapshot, in
//! /home and on tank, survive it all. Every UEFI boot has Secure Boot on
//! (Microsoft's keys, the build's certificate a MOK), so each boot
//! environment's entry is shown to boot under it: the new one, the old one
//! picked in the menu, the broken one's trial and the fallback.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use qemu_tests::apt_repo;
use qemu_tests::iso::build_certificate;
use qemu_tests::machine::{Builder, Disk, Firmware, Machine};
use qemu_tests::sinks::Sink;
use qemu_tests::ssh;

use super::{Scenario, ESP_COUNT, FIRSTBOOT_DONE};

/// profiles/storage.toml's [boot-environments] fallback-minutes.
const FALLBACK_MINUTES: u64 = 5;
const VERSION: &str = "cat /usr/share/hearth-probe/version";
const AFTER: &str = "cat /home/admin/after.txt /tank/after.txt";
/// Each present ESP: its boot state and its initrds' SHA-256.
const ESPS: &str = "for uuid in $(zfs get -H -o value org.hearth:esps rpool/ROOT | tr , ' '); do \
    [ -e /dev/disk/by-uuid/$uuid ] || { echo \"ESP $uuid missing\"; continue; }; \
    mkdir -p /mnt/esp && mount -o ro UUID=$uuid /mnt/esp && echo \"ESP $uuid\" && \
    grep -a '^hearth_' /mnt/esp/grub/grubenv && (cd /mnt/esp && sha256sum env/*/initrd.img); \
    umount /mnt/esp; done";

#[test]
fn upgrades() {
    let Some(mut scenario) = Scenario::with_iso("upgrades", 50, "minimal") else {
        return;
    };
    let build = build_certificate(&scenario.iso, &scenario.dir).expect("the build's certificate");
    scenario.secure_boot = Some(vec![build]);
    let mut repo = Repo::start(&scenario);
    let disks = vec![
        scenario.disk("root-1", 8),
        scenario.disk("root-2", 8),
        scenario.disk("tank-1", 4),
        scenario.disk("tank-2", 4),
        scenario.disk("tank-3", 4),
    ];
    let all: Vec<&Disk> = disks.iter().collect();
    scenario.install(
        "storage",
        Firmware::Uefi,
        &all,
        &repo.answer(),
        "HEARTH-INSTALL-DONE",
    );
    let (server, port) = scenario.boot("first-boot", Firmware::Uefi, &all);
    assert_eq!(scenario.root(port, FIRSTBOOT_DONE).trim(), "active");
    assert_eq!(scenario.root(port, ESP_COUNT).trim(), "2");
    secure_boot_on(&scenario, port, "first-boot");

    apt_snapshots_first(&scenario, port);
    let new = upgrade_into_a_new_environment(&mut scenario, port, &mut repo);
    // Written data reaches the pool before the power goes.
    scenario.root(port, "sync");
    drop(server);

    the_new_environment_boots(&mut scenario, &all, &new);
    pick_the_old_entry_in_grub(&mut scenario, &all, &new);
    the_second_disk_alone_boots_the_default(&mut scenario, &disks);
    the_missing_disks_esp_catches_up(&mut scenario, &all);
    a_broken_upgrade_falls_back_by_itself(&mut scenario, &all, &mut repo);
    scenario.report();
}

/// The repository the server's apt reads, and the test package's versions.
struct Repo {
    www: PathBuf,
    server: Sink,
    key: String,
    debs: Vec<PathBuf>,
}

impl Repo {
    fn start(scenario: &Scenario) -> Repo {
        let www = scenario.dir.join("www");
        let key = apt_repo::build(&www, "trixie").expect("the test's apt repository");
        let server = Sink::http(Some(www.clone())).expect("repository server");
        let mut repo = Repo {
            www,
            server,
            key,
            debs: Vec::new(),
        };
        repo.add(scenario, "1", &[]);
        repo
    }

    /// Publishes version `version` of hearth-probe beside the earlier ones.
    fn add(&mut self, scenario: &Scenario, version: &str, extra: &[(&str, &str)]) {
        let text = format!("{version}\n");
        let mut files = vec![("usr/share/hearth-probe/version", text.as_str())];
        files.extend_from_slice(extra);
        let deb = apt_repo::deb(&scenario.dir, "hearth-probe", version, &files).expect("deb");
        self.debs.push(deb);
        apt_repo::publish(&self.www, "trixie", &self.debs).expect("publish");
    }

    fn answer(&self) -> String {
        format!(
            "\n[updates]\nmirror = \"http://10.0.2.2:{port}/debian\"\nsecurity-mirror = \"http://10.0.2.2:{port}/debian-security\"\nsigned-by = \"\"\"\n{}\"\"\"\n",
            self.key,
            port = self.server.port,
        )
    }
}

/// apt's hook snapshots the running environment before dpkg runs.
fn apt_snapshots_first(scenario: &Scenario, port: u16) {
    let list = scenario.root(port, "hearth be list");
    assert!(list.contains("hearth ") && list.contains(" RN "), "{list}");
    scenario.root(
        port,
        "apt-get -q update && DEBIAN_FRONTEND=noninteractive apt-get -q -y install hearth-probe",
    );
    assert_eq!(scenario.root(port, VERSION).trim(), "1");
    let snaps = scenario.root(port, "zfs list -H -o name -t snapshot rpool/ROOT/hearth");
    assert!(
        snaps.contains("rpool/ROOT/hearth@apt-"),
        "the APT hook's snapshot: {snaps}"
    );
}

/// `hearth upgrade`: version 2 in a new environment, the running system
/// untouched, the new one the default on both ESPs with its own initrd.
fn upgrade_into_a_new_environment(scenario: &mut Scenario, port: u16, repo: &mut Repo) -> String {
    repo.add(scenario, "2", &[]);
    let started = Instant::now();
    let out = scenario.root(port, "hearth upgrade");
    assert!(out.contains("hearth-probe 1 -> 2"), "{out}");
    scenario.phase("hearth upgrade", started);
    assert_eq!(
        scenario.root(port, VERSION).trim(),
        "1",
        "the running system is untouched"
    );
    let new = scenario
        .root(
            port,
            "zfs list -H -o name -d 1 rpool/ROOT | sed -n 's|^rpool/ROOT/||p' | grep -vx hearth",
        )
        .trim()
        .to_string();
    assert!(new.starts_with("hearth-"), "one new environment: {new}");
    let esps = scenario.root(port, ESPS);
    assert_eq!(
        esps.matches(&format!("hearth_default={new}")).count(),
        2,
        "{esps}"
    );
    assert_eq!(esps.matches("hearth_trial=new").count(), 2, "{esps}");
    let initrd = scenario.root(
        port,
        &format!(
            "mkdir -p /mnt/new && mount -t zfs -o ro,zfsutil rpool/ROOT/{new} /mnt/new && \
         sha256sum /mnt/new/boot/initrd.img-* | cut -d' ' -f1; umount /mnt/new"
        ),
    );
    assert_eq!(
        esps.matches(&format!("{}  env/{new}/initrd.img", initrd.trim()))
            .count(),
        2,
        "the new environment's initrd on both ESPs: {esps}"
    );
    scenario.root(
        port,
        "echo after > /home/admin/after.txt && echo after > /tank/after.txt && sync",
    );
    new
}

/// The new environment, the default now, boots (its trial) and confirms
/// itself.
fn the_new_environment_boots(scenario: &mut Scenario, all: &[&Disk], new: &str) {
    let (server, port) = scenario.boot("new-environment", Firmware::Uefi, all);
    assert_eq!(
        scenario.root(port, "findmnt -n -o SOURCE /").trim(),
        format!("rpool/ROOT/{new}")
    );
    assert_eq!(
        scenario.root(port, VERSION).trim(),
        "2",
        "the upgraded system"
    );
    secure_boot_on(scenario, port, "new-environment");
    boot_ok_done(scenario, port);
    scenario.root(port, "sync");
    drop(server);
}

/// Secure Boot on, and zfs (signed by the build) loaded.
fn secure_boot_on(scenario: &Scenario, port: u16, name: &str) {
    let state = scenario.root(port, "mokutil --sb-state; lsmod | grep -c '^zfs '");
    assert_eq!(state.trim(), "SecureBoot enabled\n1", "{name}");
}

/// The menu's second entry (the old environment) picked over the serial
/// console boots the system as it was; `hearth rollback` keeps it.
fn pick_the_old_entry_in_grub(scenario: &mut Scenario, all: &[&Disk], new: &str) {
    let (mut server, port) = start(scenario, "pick-old", Firmware::Uefi, all);
    server
        .wait_for_console(&format!("Hearth {new} \\("), server.scaled(60))
        .expect("GRUB lists the new environment");
    server
        .wait_for_console("Hearth hearth \\(", server.scaled(10))
        .expect("and the old one");
    server.send("v").expect("down");
    server.send("\r").expect("enter");
    wait_for_login(scenario, &mut server, port, "pick-old");
    assert_eq!(
        scenario.root(port, "findmnt -n -o SOURCE /").trim(),
        "rpool/ROOT/hearth"
    );
    assert_eq!(
        scenario.root(port, VERSION).trim(),
        "1",
        "the old system, as it was"
    );
    assert_eq!(scenario.root(port, AFTER), "after\nafter\n");
    secure_boot_on(scenario, port, "pick-old");
    boot_ok_done(scenario, port);
    let out = scenario.root(port, "hearth rollback hearth");
    assert!(out.contains("hearth boots from the next boot on"), "{out}");
    let esps = scenario.root(port, ESPS);
    assert_eq!(esps.matches("hearth_default=hearth\n").count(), 2, "{esps}");
    assert_eq!(esps.matches("hearth_trial=\n").count(), 2, "{esps}");
    // Written data reaches the pool before the power goes.
    scenario.root(port, "sync");
    server.kill();
}

/// The second disk alone (BIOS) boots the default, and an initramfs
/// update reaches its ESP while the other is missing.
fn the_second_disk_alone_boots_the_default(scenario: &mut Scenario, disks: &[Disk]) {
    let alone: Vec<&Disk> = disks.iter().skip(1).collect();
    let (mut server, port) = scenario.boot("second-disk-alone", Firmware::Bios, &alone);
    assert_eq!(
        scenario.root(port, "findmnt -n -o SOURCE /").trim(),
        "rpool/ROOT/hearth"
    );
    let status = scenario.root(port, "hearth status || true");
    assert!(
        status.contains("boot environment: running hearth, next boot hearth; ESPs present 1 of 2"),
        "{status}"
    );
    assert_eq!(scenario.root(port, VERSION).trim(), "1");
    assert_eq!(scenario.root(port, AFTER), "after\nafter\n");
    let started = Instant::now();
    let out = scenario.root(port, "update-initramfs -u 2>&1");
    scenario.phase("update-initramfs, a disk missing", started);
    assert!(out.contains("missing (disk removed?); skipped"), "{out}");
    let esps = scenario.root(port, ESPS);
    let built = scenario.root(port, "sha256sum /boot/initrd.img-* | cut -d' ' -f1");
    assert_eq!(
        esps.matches(&format!("{}  env/hearth/initrd.img", built.trim()))
            .count(),
        1,
        "the present ESP has the new initrd: {esps}"
    );
    // Written data reaches the pool before the power goes.
    scenario.root(port, "sync");
    server.kill();
}

/// Both disks again: once up, the ESP that missed the update has it too.
fn the_missing_disks_esp_catches_up(scenario: &mut Scenario, all: &[&Disk]) {
    let (mut server, port) = scenario.boot("both-disks-again", Firmware::Uefi, all);
    let built = scenario.root(port, "sha256sum /boot/initrd.img-* | cut -d' ' -f1");
    eprintln!("/boot's initrd: {}", built.trim());
    let esps = wait_for(scenario, port, ESPS, Duration::from_secs(120), |esps| {
        esps.matches(&format!("{}  env/hearth/initrd.img", built.trim()))
            .count()
            == 2
    });
    assert_eq!(esps.matches("hearth_default=hearth\n").count(), 2, "{esps}");
    // Written data reaches the pool before the power goes.
    scenario.root(port, "sync");
    server.kill();
}

/// Version 3 keeps multi-user from being reached: its trial boot restarts
/// after the profile's deadline and GRUB boots the fallback, for good.
fn a_broken_upgrade_falls_back_by_itself(scenario: &mut Scenario, all: &[&Disk], repo: &mut Repo) {
    repo.add(
        scenario,
        "3",
        &[
            (
                "usr/lib/systemd/system/multi-user.target.d/hearth-probe.conf",
                "[Unit]\nRequires=hearth-probe-broken.service\nAfter=hearth-probe-broken.service\n",
            ),
            (
                "usr/lib/systemd/system/hearth-probe-broken.service",
                "[Service]\nType=oneshot\nExecStart=/bin/false\n",
            ),
        ],
    );
    let (server, port) = scenario.boot("before-broken", Firmware::Uefi, all);
    let out = scenario.root(port, "hearth upgrade broken");
    assert!(out.contains("hearth-probe 1 -> 3"), "{out}");
    // Written data reaches the pool before the power goes.
    scenario.root(port, "sync");
    drop(server);
    let started = Instant::now();
    let (mut trial, _) = start(scenario, "broken-trial", Firmware::Uefi, all);
    // -no-reboot: the deadline's restart ends QEMU.
    let deadline = Duration::from_secs(FALLBACK_MINUTES * 60) + trial.scaled(120);
    trial
        .wait_for_exit(deadline)
        .expect("the trial boot restarts by itself");
    scenario.phase("broken trial until its restart", started);
    let said = String::from_utf8_lossy(&std::fs::read(&trial.log).expect("the trial's console"))
        .to_string();
    for words in [
        "secureboot: Secure boot enabled",
        "root=ZFS=rpool/ROOT/broken",
    ] {
        assert!(
            said.contains(words),
            "the broken environment's kernel says {words:?}"
        );
    }
    let (server, port) = scenario.boot("after-fallback", Firmware::Uefi, all);
    secure_boot_on(scenario, port, "after-fallback");
    assert_eq!(
        scenario.root(port, "findmnt -n -o SOURCE /").trim(),
        "rpool/ROOT/hearth"
    );
    assert_eq!(scenario.root(port, VERSION).trim(), "1");
    assert_eq!(scenario.root(port, AFTER), "after\nafter\n");
    let esps = wait_for(scenario, port, ESPS, Duration::from_secs(120), |esps| {
        esps.matches("hearth_failed=broken").count() == 2
    });
    assert_eq!(esps.matches("hearth_default=hearth\n").count(), 2, "{esps}");
    let status = scenario.root(port, "hearth status || true");
    assert!(
        status.contains("boot environment broken never reached multi-user; hearth boots instead"),
        "{status}"
    );
    let list = scenario.root(port, "hearth be list");
    assert!(
        list.lines()
            .any(|l| l.starts_with("broken ") && l.contains(" X ")),
        "{list}"
    );
    let out = scenario.root(port, "hearth be destroy broken");
    assert!(out.contains("boot environment broken destroyed"), "{out}");
    let esps = scenario.root(port, ESPS);
    assert!(!esps.contains("env/broken/"), "gone from every ESP: {esps}");
    assert_eq!(esps.matches("env/hearth/initrd.img").count(), 2, "{esps}");
    // Written data reaches the pool before the power goes.
    scenario.root(port, "sync");
    drop(server);
}

/// The machine started on `disks`, ssh forwarded, nothing waited for.
fn start(scenario: &Scenario, name: &str, firmware: Firmware, disks: &[&Disk]) -> (Machine, u16) {
    let port = ssh::free_port().expect("port");
    let mut builder = Builder::new(name, &scenario.dir)
        .firmware(firmware)
        .ssh_forward(port);
    for disk in disks {
        builder = builder.disk(disk);
    }
    let builder = scenario.secure(builder, firmware);
    (builder.start(scenario.accel).expect("qemu"), port)
}

fn wait_for_login(scenario: &mut Scenario, server: &mut Machine, port: u16, name: &str) {
    let started = Instant::now();
    server
        .wait_for_console("login:", server.scaled(60))
        .expect("a login prompt");
    ssh::wait(&scenario.key, port, "root", server.scaled(20)).expect("ssh as root");
    scenario.phase(name, started);
}

/// hearth-boot-ok has run (it writes the ESPs once the boot is up).
fn boot_ok_done(scenario: &Scenario, port: u16) {
    wait_for(
        scenario,
        port,
        "systemctl is-active hearth-boot-ok.service || true",
        Duration::from_secs(300),
        |out| out.trim() == "active",
    );
}

/// Runs `command` until `done` takes its output.
fn wait_for(
    scenario: &Scenario,
    port: u16,
    command: &str,
    timeout: Duration,
    done: impl Fn(&str) -> bool,
) -> String {
    let started = Instant::now();
    loop {
        let out = ssh::run(&scenario.key, port, "root", command).unwrap_or_default();
        if done(&out) {
            return out;
        }
        assert!(
            started.elapsed() < timeout,
            "`{command}` never gave what was waited for:\n{out}"
        );
        std::thread::sleep(Duration::from_secs(5));
    }
}
