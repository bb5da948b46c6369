//! Unattended installs in QEMU: the ISO with an answer injected boots on
//! blank disks, installs, powers off; the machine then boots from its disks
//! and is checked from outside over ssh with the answer's key.

use std::time::Instant;

use qemu_tests::machine::{Firmware, Machine};
use qemu_tests::ssh;

mod answers;
mod cut_off;
mod day_two;
mod encrypted;
mod fleet;
mod homelab;
mod profiles;
mod proxmox;
mod scenario;
mod secure_boot;
mod services;
mod total_loss;
mod upgrades;

use scenario::{install_done, install_outcome, sha256, Scenario, ADMIN_HASH, FIRSTBOOT_DONE};

#[test]
fn uefi_single() {
    let Some(mut scenario) = Scenario::new("uefi-single", 7) else {
        return;
    };
    // The foreign disk is the smaller one, which the profile's filter would
    // take first: it holds partitions, so the plan passes it by.
    let (foreign, before) = scenario.foreign_disk("someones-data");
    let disk = scenario.disk("hearth-disk-1", 8);
    scenario.install(
        "minimal",
        Firmware::Uefi,
        &[&foreign, &disk],
        "",
        "HEARTH-INSTALL-DONE",
    );
    assert_eq!(
        sha256(&foreign.path),
        before,
        "the install left the foreign disk alone"
    );
    let (mut server, port) = scenario.boot("first-boot", Firmware::Uefi, &[&disk, &foreign]);
    let started = Instant::now();
    assert_eq!(
        scenario.root(port, "zpool status -x").trim(),
        "all pools are healthy"
    );
    assert_eq!(
        scenario.root(port, "findmnt -n -o SOURCE /").trim(),
        "rpool/ROOT/hearth"
    );
    let whoami = ssh::run(&scenario.key, port, "admin", "id -un; hostname").expect("admin logs in");
    assert_eq!(
        whoami.split_whitespace().collect::<Vec<_>>(),
        ["admin", "uefi-single"]
    );
    let log = scenario.root(port, "test -s /var/log/hearth/install.log && echo kept");
    assert_eq!(log.trim(), "kept");
    // The module-signing key there is the machine's own, made on the
    // target: never the image's (whose key stays in the build cache).
    let signer = scenario.root(
        port,
        "openssl x509 -inform der -in /var/lib/dkms/mok.pub -noout -subject",
    );
    assert!(
        signer.contains("Hearth machine uefi-single"),
        "the machine's own signing key, not one from the image: {signer}"
    );
    server.kill();
    assert_eq!(
        sha256(&foreign.path),
        before,
        "the installed system left the foreign disk alone"
    );
    scenario.phase("checks", started);
    scenario.report();
}

#[test]
fn bios_mirror() {
    let Some(mut scenario) = Scenario::new("bios-mirror", 14) else {
        return;
    };
    let disks = [
        scenario.disk("hearth-disk-1", 8),
        scenario.disk("hearth-disk-2", 8),
    ];
    let both = [&disks[0], &disks[1]];
    scenario.install("mirror", Firmware::Bios, &both, "", "HEARTH-INSTALL-DONE");
    let (mut server, port) = scenario.boot("first-boot", Firmware::Bios, &both);
    assert_eq!(
        scenario.root(port, "zpool status -x").trim(),
        "all pools are healthy"
    );
    let layout = scenario.root(port, "zpool list -v -H -P rpool");
    assert!(layout.contains("mirror-0"), "{layout}");
    assert_eq!(
        layout.matches("-part3").count(),
        2,
        "both disks in the mirror: {layout}"
    );
    let esps = scenario.root(port, ESP_COUNT);
    assert_eq!(esps.trim(), "2", "every root disk has its ESP");
    server.kill();

    // The first disk dies: the second boots alone (its own BIOS GRUB and
    // ESP), and `hearth replace-disk` resilvers onto a blank third disk.
    let fresh = scenario.disk("hearth-disk-3", 8);
    let (mut alone, port) = scenario.boot("degraded", Firmware::Bios, &[&disks[1], &fresh]);
    let state = scenario.root(port, "zpool list -H -o health rpool");
    assert_eq!(state.trim(), "DEGRADED");
    let started = Instant::now();
    let replaced = scenario.root(
        port,
        "hearth replace-disk /dev/disk/by-id/virtio-hearth-disk-1-part3 /dev/disk/by-id/virtio-hearth-disk-3",
    );
    assert!(replaced.contains("resilvered"), "{replaced}");
    assert_eq!(
        scenario.root(port, "zpool status -x").trim(),
        "all pools are healthy"
    );
    let layout = scenario.root(port, "zpool list -v -H -P rpool");
    assert!(layout.contains("virtio-hearth-disk-3-part3"), "{layout}");
    scenario.phase("replace-disk", started);
    alone.kill();

    // The new disk boots alone: it got GRUB and an ESP of its own.
    let (mut new_alone, port) = scenario.boot("new-disk-alone", Firmware::Bios, &[&fresh]);
    let root = scenario.root(port, "findmnt -n -o SOURCE /");
    assert_eq!(root.trim(), "rpool/ROOT/hearth");
    new_alone.kill();
    scenario.report();
}

/// How many ESPs the root pool lists (hearth be sync keeps them all in step).
pub const ESP_COUNT: &str =
    "zfs get -H -o value org.hearth:esps rpool/ROOT | tr , '\\n' | grep -c .";

/// The plan that ran is byte for byte the one confirmed; the installed
/// copy keeps it without password hashes.
fn the_confirmed_plan_ran(scenario: &Scenario, port: u16, confirmed: &str) {
    let executed = scenario.root(port, "cat /etc/hearth/plan.sha256");
    assert_eq!(
        executed.trim(),
        confirmed,
        "the plan that ran is byte for byte the one confirmed"
    );
    let kept = scenario.root(port, "cat /etc/hearth/plan.json");
    assert!(
        !kept.contains("$6$") && !kept.contains("$y$"),
        "the installed plan keeps no password hash"
    );
}

/// No answer file: the questions are answered over the serial console, the
/// plan is confirmed by typing the host name, and the result boots.
#[test]
fn interactive() {
    let Some(mut scenario) = Scenario::new("interactive", 8) else {
        return;
    };
    let disk = scenario.disk("hearth-disk-1", 8);
    let started = Instant::now();
    let mut machine = scenario.start_iso(&scenario.iso, Firmware::Bios, &[&disk]);
    let wait = machine.scaled(120);
    let settle = machine.scaled(1);
    let answer = |machine: &mut Machine, prompt: &str, keys: &str| {
        machine
            .wait_for_console(prompt, wait)
            .unwrap_or_else(|e| panic!("waiting for `{prompt}`: {e:#}"));
        // A password prompt turns echo off after printing itself, and that
        // flushes what was typed before: give it a moment (seen under load).
        if prompt.starts_with("Password") || prompt == "Again" {
            std::thread::sleep(settle);
        }
        machine.send(keys).expect("keys");
    };
    answer(&mut machine, "Press Enter to install interactively", "\r");
    answer(&mut machine, "Profile", "\r");
    answer(&mut machine, "Disks for pool rpool", "\r");
    answer(&mut machine, "Layout of pool rpool", "\r");
    answer(&mut machine, "Host name", "interactive\r");
    // Too short first: refused with the reason, and asked again.
    answer(&mut machine, "Password for root", "abc\r");
    answer(&mut machine, "Again", "abc\r");
    answer(&mut machine, "needs at least 8", "");
    answer(&mut machine, "Password for root", "hunter2-root\r");
    answer(&mut machine, "Again", "hunter2-root\r");
    // Empty: admin is locked, and the preview must say so.
    answer(&mut machine, "Password for admin", "\r");
    answer(&mut machine, "Again", "\r");
    let key = format!("{}\r", scenario.public);
    answer(&mut machine, "SSH public key", &key);
    answer(&mut machine, "Network", "\r");
    answer(&mut machine, "Type the host name", "interactive\r");
    let confirmed = machine
        .wait_for_console(r"HEARTH-PLAN-CONFIRMED sha256=[0-9a-f]{64}", wait)
        .expect("the confirmed plan's hash");
    let confirmed = confirmed.rsplit('=').next().unwrap_or_default().to_string();
    let outcome = install_outcome(&mut machine, &scenario.dir);
    assert!(outcome.starts_with("HEARTH-INSTALL-DONE"), "{outcome}");
    machine.kill();
    scenario.phase("interactive install", started);

    let (mut server, port) = scenario.boot("first-boot", Firmware::Bios, &[&disk]);
    assert_eq!(scenario.root(port, "hostname").trim(), "interactive");
    assert_eq!(
        scenario.root(port, "zpool status -x").trim(),
        "all pools are healthy"
    );
    the_confirmed_plan_ran(&scenario, port, &confirmed);
    let console =
        std::fs::read_to_string(scenario.dir.join("install.serial.log")).unwrap_or_default();
    let preview = console
        .split("Type the host name")
        .next()
        .unwrap_or_default();
    assert!(
        !preview.contains("Still to be asked") && preview.contains("admin: password locked"),
        "the preview reflects every answer given"
    );
    let shadow = scenario.root(port, "getent shadow root | cut -d: -f2");
    assert!(
        shadow.starts_with("$6$"),
        "root's password is stored as a hash"
    );
    let status = scenario.root(port, "passwd -S admin | cut -d' ' -f2");
    assert_eq!(status.trim(), "L", "admin, given no password, is locked");
    let leaked = scenario.root(
        port,
        "grep -rl -e hunter2-root /etc /var/log /root 2>/dev/null | wc -l",
    );
    assert_eq!(leaked.trim(), "0", "the typed passwords are kept nowhere");
    server.kill();
    scenario.report();
}
