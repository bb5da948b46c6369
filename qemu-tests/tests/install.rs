//! Unattended installs in QEMU: the ISO with an answer injected boots on
//! blank disks, installs, powers off; the machine then boots from its disks
//! and is checked from outside over ssh with the answer's key.

use std::path::{Path, PathBuf};
use std::sync::MutexGuard;
use std::time::Instant;

use qemu_tests::iso::{built, exclusive, kernel_of, unavailable};
use qemu_tests::machine::{Builder, Disk, Firmware, Machine, Medium};
use qemu_tests::ssh;
use qemu_tests::{accel, budget};

const ADMIN_HASH: &str = "$6$hearthfixture$IxW2YQ0gV1rMF7I/02h7yo9zfZKn5OEJETbpAPtpDwSkZo7FujFeoGSNYMFwLY2AkQvfS9.DVQDaq8lmNbjtr0";

/// One scenario's folder, ISO, key pair and accelerator; machines run one
/// at a time while it holds the guard.
struct Scenario {
    name: String,
    dir: PathBuf,
    iso: PathBuf,
    key: PathBuf,
    public: String,
    accel: accel::Accel,
    times: Vec<String>,
    _guard: MutexGuard<'static, ()>,
}

impl Scenario {
    /// `minutes`: about how long it takes under TCG here, for the CI budget.
    fn new(name: &str, minutes: u64) -> Option<Scenario> {
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
        let guard = exclusive();
        if let Some(why) = budget::refuse(name, minutes) {
            eprintln!("skipped {name}: {why}");
            return None;
        }
        let accel = accel::choose(&kernel_of(&iso, &dir).expect("kernel"));
        Some(Scenario {
            name: name.into(),
            dir,
            iso,
            key,
            public,
            accel,
            times: vec![format!("prepare {:.1}s", started.elapsed().as_secs_f64())],
            _guard: guard,
        })
    }

    fn disk(&self, serial: &str, gib: u64) -> Disk {
        Disk::blank(&self.dir, serial, gib).expect("disk")
    }

    /// Boots the ISO with an answer for `profile` (plus `extra`) on `disks`
    /// and waits for the outcome; a finished install powers off.
    fn install(
        &mut self,
        profile: &str,
        firmware: Firmware,
        disks: &[&Disk],
        extra: &str,
        expected: &str,
    ) {
        let public = &self.public;
        let answer = self.dir.join("answer.toml");
        let text = format!(
            "profile = \"{profile}\"\nhostname = \"{}\"\nroot-ssh-keys = [\"{public}\"]\nafter-install = \"poweroff\"\n\n[users.admin]\npassword = \"{ADMIN_HASH}\"\nssh-keys = [\"{public}\"]\n",
            self.name
        );
        std::fs::write(&answer, text + extra).expect("answer");
        let unattended = self.dir.join("unattended.iso");
        image_builder::inject::inject(&self.iso, &answer, &unattended).expect("inject the answer");
        let started = Instant::now();
        let mut installer = self.start_iso(&unattended, firmware, disks);
        let outcome = install_outcome(&mut installer);
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
        self.phase("install", started);
    }

    /// The machine that boots `iso` (as a CD) on `disks` to install.
    fn start_iso(&self, iso: &Path, firmware: Firmware, disks: &[&Disk]) -> Machine {
        let mut builder = Builder::new("install", &self.dir)
            .firmware(firmware)
            .memory(3072)
            .iso(iso, Medium::Cdrom);
        for disk in disks {
            builder = builder.disk(disk);
        }
        builder.start(self.accel).expect("qemu")
    }

    /// Boots the installed system from `disks`, waits for ssh; returns the machine and its port.
    fn boot(&mut self, name: &str, firmware: Firmware, disks: &[&Disk]) -> (Machine, u16) {
        let started = Instant::now();
        let port = ssh::free_port().expect("port");
        let mut builder = Builder::new(name, &self.dir)
            .firmware(firmware)
            .ssh_forward(port);
        for disk in disks {
            builder = builder.disk(disk);
        }
        let mut server = builder.start(self.accel).expect("qemu");
        server
            .wait_for_console("login:", server.scaled(60))
            .expect("the installed system boots to a login prompt");
        ssh::wait(&self.key, port, "root", server.scaled(20))
            .expect("ssh as root with the answer's key");
        self.phase(name, started);
        (server, port)
    }

    fn root(&self, port: u16, command: &str) -> String {
        ssh::run(&self.key, port, "root", command)
            .unwrap_or_else(|e| panic!("`{command}` failed: {e:#}"))
    }

    fn phase(&mut self, name: &str, started: Instant) {
        self.times
            .push(format!("{name} {:.1}s", started.elapsed().as_secs_f64()));
    }

    /// Prints the phase times: the scenario's figures.
    fn report(&self) {
        eprintln!("{}: {}", self.name, self.times.join(", "));
    }
}

/// The live system's verdict on the install: DONE, or FAILED with the error.
fn install_outcome(machine: &mut Machine) -> String {
    let timeout = machine.scaled(150);
    machine
        .wait_for_console(r"HEARTH-INSTALL-(DONE|FAILED[^\n]*)", timeout)
        .expect("the install ends")
}

#[test]
fn uefi_single() {
    let Some(mut scenario) = Scenario::new("uefi-single", 7) else {
        return;
    };
    let disk = scenario.disk("hearth-disk-1", 8);
    scenario.install(
        "minimal",
        Firmware::Uefi,
        &[&disk],
        "",
        "HEARTH-INSTALL-DONE",
    );
    let (mut server, port) = scenario.boot("first-boot", Firmware::Uefi, &[&disk]);
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
    let shared = scenario.root(port, "ls /var/lib/dkms/mok.key 2>/dev/null | wc -l");
    assert_eq!(shared.trim(), "0", "no module-signing key from the image");
    server.kill();
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
    let esps = scenario.root(port, "wc -l < /etc/hearth/esp-uuids");
    assert_eq!(esps.trim(), "2", "every root disk has its ESP");
    server.kill();

    // The first disk dies: the second boots alone (its own BIOS GRUB and
    // ESP), and `installer replace-disk` resilvers onto a blank third disk.
    let fresh = scenario.disk("hearth-disk-3", 8);
    let (mut alone, port) = scenario.boot("degraded", Firmware::Bios, &[&disks[1], &fresh]);
    let state = scenario.root(port, "zpool list -H -o health rpool");
    assert_eq!(state.trim(), "DEGRADED");
    let started = Instant::now();
    let replaced = scenario.root(
        port,
        "installer replace-disk /dev/disk/by-id/virtio-hearth-disk-1-part3 /dev/disk/by-id/virtio-hearth-disk-3",
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

/// The homelab disk layout (root mirror on the two small disks, raidz1 data
/// pool on three big ones), then the boot disks "die": a reinstall onto
/// two blank disks with `keep` for tank imports it with its files intact.
#[test]
fn storage_reprovision() {
    let Some(mut scenario) = Scenario::new("storage-reprovision", 13) else {
        return;
    };
    let root = [scenario.disk("root-1", 8), scenario.disk("root-2", 8)];
    let data = [
        scenario.disk("data-1", 16),
        scenario.disk("data-2", 16),
        scenario.disk("data-3", 16),
    ];
    let all = [&root[0], &root[1], &data[0], &data[1], &data[2]];
    scenario.install("storage", Firmware::Uefi, &all, "", "HEARTH-INSTALL-DONE");
    let (mut server, port) = scenario.boot("first-boot", Firmware::Uefi, &all);
    assert_eq!(
        scenario.root(port, "zpool status -x").trim(),
        "all pools are healthy"
    );
    let tank = scenario.root(port, "zpool list -v -H -P tank");
    assert!(tank.contains("raidz1-0"), "{tank}");
    assert_eq!(
        tank.matches("-part1").count(),
        3,
        "three data disks: {tank}"
    );
    let rpool = scenario.root(port, "zpool list -v -H -P rpool");
    assert!(rpool.contains("mirror-0"), "{rpool}");
    assert_eq!(
        scenario.root(port, "findmnt -n -o SOURCE /srv/data").trim(),
        "tank/data"
    );
    // First boot: hearth-firstboot ran `installer provision`; a second run changes nothing.
    assert_eq!(
        scenario
            .root(port, "systemctl is-active hearth-firstboot.service")
            .trim(),
        "active"
    );
    let allowed = scenario.root(port, "zfs allow tank/replica");
    assert!(allowed.contains("user replica"), "{allowed}");
    let again = scenario.root(port, "installer provision");
    assert!(
        again.contains("nothing changed: 1 step(s) already done"),
        "{again}"
    );
    let written = scenario.root(
        port,
        "head -c 1048576 /dev/urandom > /srv/data/precious && sync && sha256sum /srv/data/precious",
    );
    // The boot disks die without a clean shutdown: tank is never exported.
    server.kill();

    let fresh = [
        scenario.disk("new-root-1", 8),
        scenario.disk("new-root-2", 8),
    ];
    let all = [&fresh[0], &fresh[1], &data[0], &data[1], &data[2]];
    scenario.install(
        "storage",
        Firmware::Uefi,
        &all,
        "\n[pools.tank]\nkeep = true\n",
        "HEARTH-INSTALL-DONE",
    );
    let (mut server, port) = scenario.boot("reprovisioned", Firmware::Uefi, &all);
    assert_eq!(
        scenario.root(port, "zpool status -x").trim(),
        "all pools are healthy"
    );
    assert_eq!(
        scenario.root(port, "sha256sum /srv/data/precious"),
        written,
        "the kept pool's file is intact"
    );
    let log = scenario.root(
        port,
        "grep -c 'zpool create .* tank' /var/log/hearth/install.log || true",
    );
    assert_eq!(log.trim(), "0", "tank was imported, never created again");
    server.kill();
    scenario.report();
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
    let answer = |machine: &mut Machine, prompt: &str, keys: &str| {
        machine
            .wait_for_console(prompt, wait)
            .unwrap_or_else(|e| panic!("waiting for `{prompt}`: {e:#}"));
        machine.send(keys).expect("keys");
    };
    answer(&mut machine, "Press Enter to install interactively", "\r");
    answer(&mut machine, "Profile", "\r");
    answer(&mut machine, "Disks for pool rpool", "\r");
    answer(&mut machine, "Layout of pool rpool", "\r");
    answer(&mut machine, "Host name", "interactive\r");
    answer(&mut machine, "Password for root", "hunter2-root\r");
    answer(&mut machine, "Again", "hunter2-root\r");
    answer(&mut machine, "Password for admin", "hunter2-admin\r");
    answer(&mut machine, "Again", "hunter2-admin\r");
    let key = format!("{}\r", scenario.public);
    answer(&mut machine, "SSH public key", &key);
    answer(&mut machine, "Network", "\r");
    answer(&mut machine, "Type the host name", "interactive\r");
    let outcome = install_outcome(&mut machine);
    assert!(outcome.starts_with("HEARTH-INSTALL-DONE"), "{outcome}");
    machine.kill();
    scenario.phase("interactive install", started);

    let (mut server, port) = scenario.boot("first-boot", Firmware::Bios, &[&disk]);
    assert_eq!(scenario.root(port, "hostname").trim(), "interactive");
    assert_eq!(
        scenario.root(port, "zpool status -x").trim(),
        "all pools are healthy"
    );
    let shadow = scenario.root(port, "getent shadow admin | cut -d: -f2");
    assert!(
        shadow.starts_with("$6$"),
        "admin's password is stored as a hash"
    );
    let leaked = scenario.root(
        port,
        "grep -rl -e hunter2-root -e hunter2-admin /etc /var/log /root 2>/dev/null | wc -l",
    );
    assert_eq!(leaked.trim(), "0", "the typed passwords are kept nowhere");
    server.kill();
    scenario.report();
}

#[test]
fn bad_answer() {
    let Some(mut scenario) = Scenario::new("bad-answer", 3) else {
        return;
    };
    let disks = [
        scenario.disk("hearth-disk-1", 8),
        scenario.disk("hearth-disk-2", 8),
    ];
    // Valid against the profile, impossible on this machine: the plan fails
    // before any disk is opened for writing.
    let extra = "\n[pools.rpool]\ndisks = [\"/dev/disk/by-id/virtio-no-such-disk\"]\n";
    scenario.install(
        "minimal",
        Firmware::Bios,
        &[&disks[0], &disks[1]],
        extra,
        "HEARTH-INSTALL-FAILED",
    );
    let log = std::fs::read_to_string(scenario.dir.join("install.serial.log")).unwrap_or_default();
    assert!(
        log.contains("no disk `/dev/disk/by-id/virtio-no-such-disk`"),
        "the failure names the disk"
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
