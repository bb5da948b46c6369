//! Unattended installs in QEMU: the ISO with an answer injected boots on
//! blank disks, installs, powers off; the machine then boots from its disks
//! and is checked from outside over ssh with the answer's key.

use std::path::PathBuf;
use std::sync::MutexGuard;
use std::time::Instant;

use qemu_tests::accel;
use qemu_tests::iso::{built, exclusive, kernel_of, unavailable};
use qemu_tests::machine::{Builder, Disk, Firmware, Medium};
use qemu_tests::ssh;

const ADMIN_HASH: &str = "$6$hearthfixture$IxW2YQ0gV1rMF7I/02h7yo9zfZKn5OEJETbpAPtpDwSkZo7FujFeoGSNYMFwLY2AkQvfS9.DVQDaq8lmNbjtr0";

struct Installed {
    dir: PathBuf,
    key: PathBuf,
    disks: Vec<Disk>,
    accel: accel::Accel,
    times: String,
}

/// Builds the ISO, injects an answer for `profile` with a fresh key, boots
/// it on `disks` blank disks, and waits for the install and the power-off.
fn install(
    name: &str,
    profile: &str,
    firmware: Firmware,
    disks: usize,
) -> Option<(Installed, MutexGuard<'static, ()>)> {
    run_install(name, profile, firmware, disks, "", "HEARTH-INSTALL-DONE")
}

/// As `install`, with `extra` appended to the answer and `expected` as the outcome.
fn run_install(
    name: &str,
    profile: &str,
    firmware: Firmware,
    disks: usize,
    extra: &str,
    expected: &str,
) -> Option<(Installed, MutexGuard<'static, ()>)> {
    if let Some(why) = unavailable() {
        eprintln!("skipped {name}: {why}");
        return None;
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/qemu-tests")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scenario dir");
    let started = Instant::now();
    let iso = built("minimal").expect("the ISO builds");
    let (key, public) = ssh::key_pair(&dir).expect("key pair");
    let answer = dir.join("answer.toml");
    let text = format!(
        "profile = \"{profile}\"\nhostname = \"{name}\"\nroot-ssh-keys = [\"{public}\"]\nafter-install = \"poweroff\"\n\n[users.admin]\npassword = \"{ADMIN_HASH}\"\nssh-keys = [\"{public}\"]\n"
    );
    std::fs::write(&answer, text + extra).expect("answer");
    let unattended = dir.join("unattended.iso");
    image_builder::inject::inject(&iso, &answer, &unattended).expect("inject the answer");
    let prepare = started.elapsed().as_secs_f64();

    let guard = exclusive();
    let accel = accel::choose(&kernel_of(&iso, &dir).expect("kernel"));
    let disks: Vec<Disk> = (1..=disks)
        .map(|i| Disk::blank(&dir, &format!("hearth-disk-{i}"), 8).expect("disk"))
        .collect();
    let started = Instant::now();
    let mut builder = Builder::new("install", &dir)
        .firmware(firmware)
        .memory(3072)
        .iso(&unattended, Medium::Cdrom);
    for disk in &disks {
        builder = builder.disk(disk);
    }
    let mut installer = builder.start(accel).expect("qemu");
    let outcome = installer
        .wait_for_console(r"HEARTH-INSTALL-(DONE|FAILED[^\n]*)", installer.scaled(150))
        .expect("the install ends");
    assert!(
        outcome.starts_with(expected),
        "{outcome}; see {}",
        installer.log.display()
    );
    if expected == "HEARTH-INSTALL-DONE" {
        installer
            .wait_for_exit(installer.scaled(30))
            .expect("powered off after the install");
    }
    installer.kill();
    let install = started.elapsed().as_secs_f64();
    let times = format!("prepare {prepare:.1}s, install {install:.1}s");
    Some((
        Installed {
            dir,
            key,
            disks,
            accel,
            times,
        },
        guard,
    ))
}

/// Boots the installed system from `disks`, waits for ssh; returns the machine and its port.
fn boot(
    installed: &Installed,
    name: &str,
    firmware: Firmware,
    disks: &[&Disk],
) -> (qemu_tests::machine::Machine, u16) {
    let port = ssh::free_port().expect("port");
    let mut builder = Builder::new(name, &installed.dir)
        .firmware(firmware)
        .ssh_forward(port);
    for disk in disks {
        builder = builder.disk(disk);
    }
    let mut server = builder.start(installed.accel).expect("qemu");
    server
        .wait_for_console("login:", server.scaled(60))
        .expect("the installed system boots to a login prompt");
    ssh::wait(&installed.key, port, "root", server.scaled(20))
        .expect("ssh as root with the answer's key");
    (server, port)
}

#[test]
fn uefi_single() {
    let Some((installed, _guard)) = install("uefi-single", "minimal", Firmware::Uefi, 1) else {
        return;
    };
    let started = Instant::now();
    let (mut server, port) = boot(
        &installed,
        "first-boot",
        Firmware::Uefi,
        &[&installed.disks[0]],
    );
    let reboot = started.elapsed().as_secs_f64();
    let key = &installed.key;
    let started = Instant::now();
    let health = ssh::run(key, port, "root", "zpool status -x").expect("zpool status");
    assert_eq!(health.trim(), "all pools are healthy");
    let root = ssh::run(key, port, "root", "findmnt -n -o SOURCE /").expect("findmnt");
    assert_eq!(root.trim(), "rpool/ROOT/hearth");
    let whoami = ssh::run(key, port, "admin", "id -un; hostname").expect("admin logs in");
    assert_eq!(
        whoami.split_whitespace().collect::<Vec<_>>(),
        ["admin", "uefi-single"]
    );
    let log = ssh::run(
        key,
        port,
        "root",
        "test -s /var/log/hearth/install.log && echo kept",
    )
    .expect("install log");
    assert_eq!(log.trim(), "kept");
    server.kill();
    eprintln!(
        "uefi-single: {}, reboot {reboot:.1}s, checks {:.1}s",
        installed.times,
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn bios_mirror() {
    let Some((installed, _guard)) = install("bios-mirror", "mirror", Firmware::Bios, 2) else {
        return;
    };
    let started = Instant::now();
    let (mut server, port) = boot(
        &installed,
        "first-boot",
        Firmware::Bios,
        &[&installed.disks[0], &installed.disks[1]],
    );
    let reboot = started.elapsed().as_secs_f64();
    let key = &installed.key;
    let health = ssh::run(key, port, "root", "zpool status -x").expect("zpool status");
    assert_eq!(health.trim(), "all pools are healthy");
    let layout = ssh::run(key, port, "root", "zpool list -v -H -P rpool").expect("zpool list");
    assert!(layout.contains("mirror-0"), "{layout}");
    assert_eq!(
        layout.matches("-part3").count(),
        2,
        "both disks in the mirror: {layout}"
    );
    let esps = ssh::run(key, port, "root", "wc -l < /etc/hearth/esp-uuids").expect("ESP list");
    assert_eq!(esps.trim(), "2", "every root disk has its ESP");
    server.kill();

    // The second disk alone still boots (its own BIOS GRUB and ESP).
    let started = Instant::now();
    let (mut alone, port) = boot(
        &installed,
        "second-disk-alone",
        Firmware::Bios,
        &[&installed.disks[1]],
    );
    let alone_time = started.elapsed().as_secs_f64();
    let state = ssh::run(key, port, "root", "zpool list -H -o health rpool").expect("pool health");
    assert_eq!(state.trim(), "DEGRADED");
    alone.kill();
    eprintln!(
        "bios-mirror: {}, reboot {reboot:.1}s, second disk alone {alone_time:.1}s",
        installed.times
    );
}

#[test]
fn bad_answer() {
    // Valid against the profile, impossible on this machine: the plan fails
    // before any disk is opened for writing.
    let extra = "\n[pools.rpool]\ndisks = [\"/dev/disk/by-id/virtio-no-such-disk\"]\n";
    let Some((installed, _guard)) = run_install(
        "bad-answer",
        "minimal",
        Firmware::Bios,
        2,
        extra,
        "HEARTH-INSTALL-FAILED",
    ) else {
        return;
    };
    let log = std::fs::read_to_string(installed.dir.join("install.serial.log")).unwrap_or_default();
    assert!(
        log.contains("no disk `/dev/disk/by-id/virtio-no-such-disk`"),
        "the failure names the disk"
    );
    let reference =
        Disk::blank(&installed.dir.join("reference"), "blank", 8).expect("a blank disk");
    for disk in &installed.disks {
        let same = std::process::Command::new("qemu-img")
            .arg("compare")
            .arg(&disk.path)
            .arg(&reference.path)
            .status()
            .expect("qemu-img compare");
        assert!(same.success(), "{} was written to", disk.serial);
    }
    eprintln!("bad-answer: {}", installed.times);
}
