//! What an answer brings, from outside: one that cannot be carried out is
//! refused before any write; one on a disk labelled HEARTH is found.

use std::time::Instant;

use qemu_tests::machine::{Disk, Firmware};

use super::{install_outcome, sha256, Scenario, ADMIN_HASH};

#[test]
fn bad_answer() {
    let Some(mut scenario) = Scenario::new("bad-answer", 8) else {
        return;
    };
    let disks = [
        scenario.disk("hearth-disk-1", 8),
        scenario.disk("hearth-disk-2", 8),
    ];
    let (foreign, before) = scenario.foreign_disk("someones-data");
    // Valid against the profile, impossible on this machine: the plan fails
    // before any disk is opened for writing.
    let extra = "\n[pools.rpool]\ndisks = [\"/dev/disk/by-id/virtio-no-such-disk\"]\n";
    scenario.install(
        "minimal",
        Firmware::Bios,
        &[&disks[0], &disks[1], &foreign],
        extra,
        "HEARTH-INSTALL-FAILED",
    );
    assert_eq!(
        sha256(&foreign.path),
        before,
        "the foreign disk was written to"
    );
    let log = std::fs::read_to_string(scenario.dir.join("install.serial.log")).unwrap_or_default();
    assert!(
        log.contains("no disk `/dev/disk/by-id/virtio-no-such-disk`"),
        "the failure names the disk"
    );
    // A profile whose packages the minimal medium lacks is refused by name.
    scenario.install(
        "nas",
        Firmware::Bios,
        &[&disks[0], &disks[1], &foreign],
        "",
        "HEARTH-INSTALL-FAILED",
    );
    let log = std::fs::read_to_string(scenario.dir.join("install.serial.log")).unwrap_or_default();
    assert!(
        log.contains("this medium cannot install profile `nas`") && log.contains("samba"),
        "the refusal names the profile and what the medium lacks"
    );
    let reference = Disk::blank(&scenario.dir.join("reference"), "blank", 8).expect("a blank disk");
    for disk in &disks {
        let same = std::process::Command::new("qemu-img")
            .arg("compare")
            .arg(&disk.path)
            .arg(&reference.path)
            .status()
            .expect("qemu-img compare");
        assert!(same.success(), "{} was written to", disk.serial);
    }
    scenario.report();
}

/// The answer on a small ext4 disk labelled HEARTH beside a plain ISO: it
/// is found, copied, the disk itself is left alone, the install completes.
#[test]
fn hearth_partition_answer() {
    let Some(mut scenario) = Scenario::new("hearth-partition", 7) else {
        return;
    };
    let answer_dir = scenario.dir.join("answer-disk");
    std::fs::create_dir_all(&answer_dir).expect("dir");
    let public = &scenario.public;
    let answer = format!(
        "profile = \"minimal\"\nhostname = \"from-partition\"\nroot-ssh-keys = [\"{public}\"]\nafter-install = \"poweroff\"\n\n[users.admin]\npassword = \"{ADMIN_HASH}\"\n"
    );
    std::fs::write(answer_dir.join("answer.toml"), answer).expect("answer");
    let stick = Disk::raw(&scenario.dir, "answer-stick", 64).expect("raw disk");
    let made = std::process::Command::new("mke2fs")
        .args(["-q", "-F", "-t", "ext4", "-L", "HEARTH", "-d"])
        .arg(&answer_dir)
        .arg(&stick.path)
        .output()
        .expect("mke2fs (e2fsprogs)");
    assert!(made.status.success(), "mke2fs: {made:?}");
    let before = sha256(&stick.path);
    let disk = scenario.disk("hearth-disk-1", 8);
    let started = Instant::now();
    let iso = scenario.iso.clone();
    let mut machine = scenario.start_iso(&iso, Firmware::Uefi, &[&stick, &disk]);
    machine
        .wait_for_console("the partition labelled HEARTH", machine.scaled(120))
        .expect("the answer is found on the HEARTH disk");
    let outcome = install_outcome(&mut machine, &scenario.dir);
    assert!(outcome.starts_with("HEARTH-INSTALL-DONE"), "{outcome}");
    machine
        .wait_for_exit(machine.scaled(60))
        .expect("powered off");
    machine.kill();
    scenario.phase("install", started);
    assert_eq!(
        sha256(&stick.path),
        before,
        "the answer's disk is read, never written"
    );
    let (mut server, port) = scenario.boot("first-boot", Firmware::Uefi, &[&stick, &disk]);
    assert_eq!(scenario.root(port, "hostname").trim(), "from-partition");
    server.kill();
    scenario.report();
}
