//! Unattended installs in QEMU: the ISO with an answer injected boots on
//! blank disks, installs, powers off; the machine then boots from its disks
//! and is checked from outside over ssh with the answer's key.

use std::path::PathBuf;
use std::time::Instant;

use qemu_tests::accel;
use qemu_tests::iso::{built, exclusive, kernel_of, unavailable};
use qemu_tests::machine::{Builder, Disk, Firmware, Medium};
use qemu_tests::ssh;

const ADMIN_HASH: &str = "$6$hearthfixture$IxW2YQ0gV1rMF7I/02h7yo9zfZKn5OEJETbpAPtpDwSkZo7FujFeoGSNYMFwLY2AkQvfS9.DVQDaq8lmNbjtr0";

#[test]
fn uefi_single() {
    if let Some(why) = unavailable() {
        eprintln!("skipped uefi-single: {why}");
        return;
    }
    let name = "uefi-single";
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/qemu-tests")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scenario dir");
    let started = Instant::now();
    let iso = built("minimal").expect("the minimal ISO builds");
    let (key, public) = ssh::key_pair(&dir).expect("key pair");
    let answer = dir.join("answer.toml");
    let text = format!(
        "hostname = \"single\"\nroot-ssh-keys = [\"{public}\"]\nafter-install = \"poweroff\"\n\n[users.admin]\npassword = \"{ADMIN_HASH}\"\nssh-keys = [\"{public}\"]\n"
    );
    std::fs::write(&answer, text).expect("answer");
    let unattended = dir.join("unattended.iso");
    image_builder::inject::inject(&iso, &answer, &unattended).expect("inject the answer");
    let prepare = started.elapsed().as_secs_f64();

    let _one_at_a_time = exclusive();
    let accel = accel::choose(&kernel_of(&iso, &dir).expect("kernel"));
    let disk = Disk::blank(&dir, "hearth-disk-1", 8).expect("disk");

    let started = Instant::now();
    let mut installer = Builder::new("install", &dir)
        .firmware(Firmware::Uefi)
        .memory(3072)
        .iso(&unattended, Medium::Cdrom)
        .disk(&disk)
        .start(accel)
        .expect("qemu");
    let outcome = installer
        .wait_for_console(r"HEARTH-INSTALL-(DONE|FAILED[^\n]*)", installer.scaled(150))
        .expect("the install ends");
    assert_eq!(
        outcome,
        "HEARTH-INSTALL-DONE",
        "see {}",
        installer.log.display()
    );
    installer
        .wait_for_exit(installer.scaled(30))
        .expect("powered off after the install");
    let install = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let port = ssh::free_port().expect("port");
    let mut server = Builder::new("first-boot", &dir)
        .firmware(Firmware::Uefi)
        .disk(&disk)
        .ssh_forward(port)
        .start(accel)
        .expect("qemu");
    server
        .wait_for_console("single login:", server.scaled(60))
        .expect("the installed system boots to a login prompt");
    ssh::wait(&key, port, "root", server.scaled(20)).expect("ssh as root with the answer's key");
    let reboot = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let health = ssh::run(&key, port, "root", "zpool status -x").expect("zpool status");
    assert_eq!(health.trim(), "all pools are healthy");
    let root = ssh::run(&key, port, "root", "findmnt -n -o SOURCE /").expect("findmnt");
    assert_eq!(root.trim(), "rpool/ROOT/hearth");
    let whoami = ssh::run(&key, port, "admin", "id -un; hostname").expect("admin logs in");
    assert_eq!(
        whoami.split_whitespace().collect::<Vec<_>>(),
        ["admin", "single"]
    );
    let log = ssh::run(
        &key,
        port,
        "root",
        "test -s /var/log/hearth/install.log && echo kept",
    )
    .expect("install log");
    assert_eq!(log.trim(), "kept");
    let checks = started.elapsed().as_secs_f64();
    server.kill();
    eprintln!("{name}: prepare {prepare:.1}s, install {install:.1}s, reboot {reboot:.1}s, checks {checks:.1}s");
}
