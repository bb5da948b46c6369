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

mod answers;
mod cut_off;
mod day_two;
mod encrypted;
mod fleet;
mod homelab;
mod profiles;
mod proxmox;
mod secure_boot;
mod services;
mod total_loss;
mod upgrades;

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
    /// Top-level lines added to the answer.
    top_extra: String,
    /// Lines added to the answer's [users.admin].
    admin_extra: String,
    /// The answer's host name; default: the scenario's name.
    hostname: Option<String>,
    /// Files laid beside the answer on the ISO (a recovery kit).
    beside: Vec<PathBuf>,
    /// UEFI machines boot with Secure Boot on, these MOKs (PEM) enrolled.
    secure_boot: Option<Vec<PathBuf>>,
    /// Boot on the UEFI variables the last machine left (NVRAM kept).
    keep_vars: bool,
    _guard: MutexGuard<'static, ()>,
}

impl Scenario {
    /// `minutes`: about how long it takes under TCG here, for the CI budget.
    fn new(name: &str, minutes: u64) -> Option<Scenario> {
        Scenario::with_iso(name, minutes, "minimal")
    }

    /// A scenario that installs from the ISO of profile `iso`: a profile
    /// needs its packages on the medium.
    fn with_iso(name: &str, minutes: u64, iso: &str) -> Option<Scenario> {
        if let Some(why) = unavailable() {
            eprintln!("skipped {name}: {why}");
            return None;
        }
        // Say so before building an ISO that only a skipped scenario would
        // use: a base layer takes minutes of CI's budget.
        if let Some(why) = budget::refuse(name, minutes) {
            eprintln!("skipped {name}: {why}");
            return None;
        }
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../target/qemu-tests")
            .join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scenario dir");
        let started = Instant::now();
        let iso = built(iso).expect("the ISO builds");
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
            top_extra: String::new(),
            admin_extra: String::new(),
            hostname: None,
            beside: Vec::new(),
            secure_boot: None,
            keep_vars: false,
            _guard: guard,
        })
    }

    fn disk(&self, serial: &str, gib: u64) -> Disk {
        Disk::blank(&self.dir, serial, gib).expect("disk")
    }

    /// A small raw disk that holds someone's data: a GPT written by sgdisk
    /// and random bytes in its first partition. Returns it and its SHA-256.
    fn foreign_disk(&self, serial: &str) -> (Disk, String) {
        let disk = Disk::raw(&self.dir, serial, 1024).expect("raw disk");
        let gpt = std::process::Command::new("sgdisk")
            .args(["-n1:2M:+256M", "-t1:8300", "-n2:0:0", "-t2:bf01"])
            .arg(&disk.path)
            .output()
            .expect("sgdisk (apt install gdisk)");
        assert!(gpt.status.success(), "sgdisk: {gpt:?}");
        let data = std::process::Command::new("dd")
            .args([
                "if=/dev/urandom",
                "bs=1M",
                "seek=2",
                "count=8",
                "conv=notrunc,fsync",
            ])
            .arg(format!("of={}", disk.path.display()))
            .output()
            .expect("dd");
        assert!(data.status.success(), "dd: {data:?}");
        let hash = sha256(&disk.path);
        (disk, hash)
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
        let unattended = self.unattended_iso(profile, extra);
        let started = Instant::now();
        let mut installer = self.start_iso(&unattended, firmware, disks);
        live_started(&mut installer);
        let outcome = install_outcome(&mut installer, &self.dir);
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

    /// The ISO with an answer for `profile` (plus `extra`) that powers off
    /// when the install is done.
    fn unattended_iso(&self, profile: &str, extra: &str) -> PathBuf {
        let public = &self.public;
        let answer = self.dir.join("answer.toml");
        let text = format!(
            "profile = \"{profile}\"\nhostname = \"{}\"\nroot-ssh-keys = [\"{public}\"]\nafter-install = \"poweroff\"\n{}\n[users.admin]\npassword = \"{ADMIN_HASH}\"\nssh-keys = [\"{public}\"]\n{}",
            self.hostname.as_deref().unwrap_or(&self.name),
            self.top_extra,
            self.admin_extra
        );
        std::fs::write(&answer, text + extra).expect("answer");
        let unattended = self.dir.join("unattended.iso");
        let beside: Vec<&Path> = self.beside.iter().map(PathBuf::as_path).collect();
        image_builder::inject::inject_with(&self.iso, &answer, &beside, &unattended)
            .expect("inject the answer");
        unattended
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
        self.secure(builder, firmware)
            .start(self.accel)
            .expect("qemu")
    }

    /// Secure Boot on for UEFI boots, when the scenario asks for it.
    pub(crate) fn secure(&self, builder: Builder, firmware: Firmware) -> Builder {
        match &self.secure_boot {
            _ if firmware != Firmware::Uefi => builder,
            Some(moks) if self.keep_vars => builder.secure_boot(moks).keep_vars(),
            Some(moks) => builder.secure_boot(moks),
            None => builder,
        }
    }

    /// Boots the installed system from `disks`, waits for ssh; returns the machine and its port.
    fn boot(&mut self, name: &str, firmware: Firmware, disks: &[&Disk]) -> (Machine, u16) {
        let (machine, port, _) = self.boot_forwarding(name, firmware, disks, &[]);
        (machine, port)
    }

    /// As `boot`, with `guest` ports forwarded too; returns their host ports.
    fn boot_forwarding(
        &mut self,
        name: &str,
        firmware: Firmware,
        disks: &[&Disk],
        guest: &[(&str, u16)],
    ) -> (Machine, u16, Vec<u16>) {
        let started = Instant::now();
        let port = ssh::free_port().expect("port");
        let mut builder = Builder::new(name, &self.dir)
            .firmware(firmware)
            .ssh_forward(port);
        let mut hosts = Vec::new();
        for (proto, guest_port) in guest {
            let host = ssh::free_port().expect("port");
            builder = match *proto {
                "udp" => builder.forward_udp(host, *guest_port),
                _ => builder.forward(host, *guest_port),
            };
            hosts.push(host);
        }
        for disk in disks {
            builder = builder.disk(disk);
        }
        let mut server = self
            .secure(builder, firmware)
            .start(self.accel)
            .expect("qemu");
        server
            .wait_for_boot("login:", server.scaled(60))
            .expect("the installed system boots to a login prompt");
        ssh::wait(&self.key, port, "root", server.scaled(20))
            .expect("ssh as root with the answer's key");
        let kept = self.dir.join("install.log");
        if !kept.exists() {
            let log = self.root(port, "cat /var/log/hearth/install.log");
            std::fs::write(kept, log).expect("keep install.log");
        }
        self.phase(name, started);
        (server, port, hosts)
    }

    /// `hearth recovery-kit` on the server, the kit copied to the host;
    /// returns its path and what the command said the kit holds.
    fn recovery_kit(&self, port: u16, passphrase: &str) -> (PathBuf, String) {
        let made = self.root(
            port,
            &format!("printf '%s\\n' '{passphrase}' | hearth recovery-kit -o /root/hearth.kit"),
        );
        assert!(made.contains("Keep it OFF this server"), "{made}");
        let encoded = self.root(port, "base64 -w0 /root/hearth.kit");
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .expect("base64");
        assert!(bytes.starts_with(b"age-encryption.org/v1\n"), "an age file");
        let path = self.dir.join("hearth.kit");
        std::fs::write(&path, bytes).expect("kit");
        (path, made)
    }

    fn root(&self, port: u16, command: &str) -> String {
        ssh::run(&self.key, port, "root", command)
            .unwrap_or_else(|e| panic!("`{command}` failed: {e:#}"))
    }

    fn phase(&mut self, name: &str, started: Instant) {
        self.times
            .push(format!("{name} {:.1}s", started.elapsed().as_secs_f64()));
    }

    /// Removes what a passed scenario no longer needs: its disks and the
    /// ISO with its answer. A CI machine's disk is small; a failed
    /// scenario keeps everything for whoever reads its logs.
    fn clean_up(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let bulky = matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("qcow2" | "img" | "iso")
            );
            if bulky {
                let _ = std::fs::remove_file(&path);
            }
        }
    }

    /// Prints the phase times, the scenario's figures, and keeps them in
    /// its folder: `.ci/run` shows them, as cargo test hides what passing
    /// tests print.
    fn report(&self) {
        let line = format!("{}: {}", self.name, self.times.join(", "));
        eprintln!("{line}");
        std::fs::write(self.dir.join("times.txt"), line + "\n").expect("times.txt");
    }
}

impl Drop for Scenario {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.clean_up();
        }
    }
}

fn sha256(path: &Path) -> String {
    let out = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Waits for hearth-firstboot to finish (Incus's first start is slow under
/// TCG); prints its final state, and the provision log's end if it failed.
const FIRSTBOOT_DONE: &str = "timeout 900 sh -c 'while [ \"$(systemctl is-active hearth-firstboot.service)\" = activating ]; do sleep 3; done'; systemctl is-active hearth-firstboot.service || tail -n 40 /var/log/hearth/provision.log";

/// Waits for the install to succeed and the machine to power off.
fn install_done(mut machine: Machine, dir: &Path) {
    live_started(&mut machine);
    let outcome = install_outcome(&mut machine, dir);
    assert!(
        outcome.starts_with("HEARTH-INSTALL-DONE"),
        "{outcome}; see {}",
        machine.log.display()
    );
    machine
        .wait_for_exit(machine.scaled(90))
        .expect("powered off after the install");
    machine.kill();
}

/// A live system just started reaches its installer (booted once more if
/// it froze on the way: see `Machine::wait_for_boot`).
fn live_started(machine: &mut Machine) {
    machine
        .wait_for_boot("HEARTH-LIVE", machine.scaled(60))
        .expect("the live system starts the installer");
}

/// The live system's verdict on the install: DONE, or FAILED with the
/// error, in which case the live system's install log is kept in `dir`.
fn install_outcome(machine: &mut Machine, dir: &Path) -> String {
    let timeout = machine.scaled(150);
    let outcome = machine
        .wait_for_console(r"HEARTH-INSTALL-(DONE|FAILED[^\n]*)", timeout)
        .expect("the install ends");
    if outcome.starts_with("HEARTH-INSTALL-FAILED") {
        // Both consoles end in a root shell after a failure; its prompt may
        // have come before the failure's line, so ask for a fresh one.
        let fresh = machine.send("\n");
        let log = fresh
            .and_then(|()| machine.take_shell(machine.scaled(30)))
            .and_then(|()| {
                machine.succeed(
                    "cat /run/hearth/install.log 2>/dev/null || true",
                    machine.scaled(30),
                )
            });
        match log {
            Ok(text) => std::fs::write(dir.join("install.log"), text).expect("keep install.log"),
            Err(err) => eprintln!("the live system's install log could not be read: {err:#}"),
        }
    }
    outcome
}

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
