//! An install cut off half-way runs again: the machine is killed after
//! partitioning, then after the pools, then during the unpack; each time
//! the same ISO and answer boot again, and the disk, holding only Hearth's
//! own unfinished install (its marker), is taken again without `wipe`. The
//! last run completes and the system boots; a foreign disk beside it is
//! never touched.

use std::time::{Duration, Instant};

use qemu_tests::machine::Firmware;

use super::{install_done, sha256, Scenario};

/// The step whose start the machine is killed at, and how long after.
const CUTS: [(&str, u64); 3] = [
    ("create pools and datasets", 0),
    ("unpack the system", 0),
    ("unpack the system", 20),
];

#[test]
fn cut_off() {
    let Some(mut scenario) = Scenario::new("cut-off", 10) else {
        return;
    };
    let (foreign, before) = scenario.foreign_disk("someones-data");
    let disk = scenario.disk("hearth-disk-1", 8);
    let iso = scenario.unattended_iso("minimal", "");
    for (step, after) in CUTS {
        let started = Instant::now();
        let mut machine = scenario.start_iso(&iso, Firmware::Uefi, &[&foreign, &disk]);
        machine
            .wait_for_console(&format!("HEARTH-STEP {step}"), machine.scaled(150))
            .unwrap_or_else(|e| panic!("the install reaches `{step}`: {e:#}"));
        std::thread::sleep(Duration::from_secs(after));
        machine.kill();
        scenario.phase(&format!("cut at {step} +{after}s"), started);
        assert_eq!(
            sha256(&foreign.path),
            before,
            "the foreign disk is untouched"
        );
    }
    let started = Instant::now();
    let machine = scenario.start_iso(&iso, Firmware::Uefi, &[&foreign, &disk]);
    install_done(machine, &scenario.dir);
    scenario.phase("install again", started);
    let (mut server, port) = scenario.boot("first-boot", Firmware::Uefi, &[&foreign, &disk]);
    assert_eq!(
        scenario.root(port, "zpool status -x").trim(),
        "all pools are healthy"
    );
    let label = scenario.root(
        port,
        "lsblk -n -o PARTLABEL /dev/disk/by-id/virtio-hearth-disk-1-part3",
    );
    assert_eq!(
        label.trim(),
        "zfs",
        "the marker is gone once the install finished"
    );
    server.kill();
    assert_eq!(
        sha256(&foreign.path),
        before,
        "the foreign disk is untouched"
    );
    scenario.report();
}
