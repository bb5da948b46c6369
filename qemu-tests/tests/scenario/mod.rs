//! The scenario every install test is written in: its folder, ISO, key
//! pair and answer, the machines it starts one at a time, and the waits
//! for an install's outcome.

use std::path::{Path, PathBuf};
use std::sync::MutexGuard;
use std::time::Instant;

use qemu_tests::iso::{built, exclusive, kernel_of, unavailable};
use qemu_tests::machine::{Builder, Disk, Firmware, Machine, Medium};
use qemu_tests::ssh;
use qemu_tests::{accel, budget};

pub(crate) const ADMIN_HASH: &str = "$6$hearthfixture$IxW2YQ0gV1rMF7I/02h7yo9zfZKn5OEJETbpAPtpDwSkZo7FujFeoGSNYMFwLY2AkQvfS9.DVQDaq8lmNbjtr0";

/// One scenario's folder, ISO, key pair and accelerator; machines run one
/// at a time while it holds the guard.
pub(crate) struct Scenario {
    pub(crate) name: String,
    pub(crate) dir: PathBuf,
    pub(crate) iso: PathBuf,
    pub(crate) key: PathBuf,
    pub(crate) public: String,
    pub(crate) accel: accel::Accel,
    pub(crate) times: Vec<String>,
    /// Top-level lines added to the answer.
    pub(crate) top_extra: String,
    /// Lines added to the answer's [users.admin].
    pub(crate) admin_extra: String,
    /// The answer's host name; default: the scenario's name.
    pub(crate) hostname: Option<String>,
    /// Files laid beside the answer on the ISO (a recovery kit).
    pub(crate) beside: Vec<PathBuf>,
    /// UEFI machines boot with Secure Boot on, these MOKs (PEM) enrolled.
    pub(crate) secure_boot: Option<Vec<PathBuf>>,
    /// Boot on the UEFI variables the last machine left (NVRAM kept).
    pub(crate) keep_vars: bool,
    /// MiB of the machines that boot the installed system.
    pub(crate) memory: u32,
    _guard: MutexGuard<'static, ()>,
}

impl Scenario {
    /// `minutes`: about how long it takes under TCG here, for the CI budget.
    pub(crate) fn new(name: &str, minutes: u64) -> Option<Scenario> {
        Scenario::with_iso(name, minutes, "minimal")
    }

    /// A scenario that installs from the ISO of profile `iso`: a profile
    /// needs its packages on the medium.
    pub(crate) fn with_iso(name: &str, minutes: u64, iso: &str) -> Option<Scenario> {
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
            memory: 2048,
            _guard: guard,
        })
    }

    pub(crate) fn disk(&self, serial: &str, gib: u64) -> Disk {
        Disk::blank(&self.dir, serial, gib).expect("disk")
    }

    /// A small raw disk that holds someone's data: a GPT written by sgdisk
    /// and random bytes in its first partition. Returns it and its SHA-256.
    pub(crate) fn foreign_disk(&self, serial: &str) -> (Disk, String) {
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
    pub(crate) fn install(
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
    pub(crate) fn unattended_iso(&self, profile: &str, extra: &str) -> PathBuf {
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
    pub(crate) fn start_iso(&self, iso: &Path, firmware: Firmware, disks: &[&Disk]) -> Machine {
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
    pub(crate) fn boot(
        &mut self,
        name: &str,
        firmware: Firmware,
        disks: &[&Disk],
    ) -> (Machine, u16) {
        let (machine, port, _) = self.boot_forwarding(name, firmware, disks, &[]);
        (machine, port)
    }

    /// As `boot`, with `guest` ports forwarded too; returns their host ports.
    pub(crate) fn boot_forwarding(
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
            .memory(self.memory)
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
    pub(crate) fn recovery_kit(&self, port: u16, passphrase: &str) -> (PathBuf, String) {
        let made = self.root(
            port,
            &format!("printf '%s\\n' '{passphrase}' | hearth recovery-kit -o /root/hearth.kit"),
        );
        assert!(made.contains("Keep it OFF this server"), "{made}");
        let bytes = self.file_bytes(port, "/root/hearth.kit");
        assert!(bytes.starts_with(b"age-encryption.org/v1\n"), "an age file");
        let path = self.dir.join("hearth.kit");
        std::fs::write(&path, bytes).expect("kit");
        (path, made)
    }

    /// A file of the server's, its bytes as they are (through base64, as
    /// the shell's output is text).
    pub(crate) fn file_bytes(&self, port: u16, path: &str) -> Vec<u8> {
        let encoded = self.root(port, &format!("base64 -w0 '{path}'"));
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .expect("base64")
    }

    pub(crate) fn root(&self, port: u16, command: &str) -> String {
        ssh::run(&self.key, port, "root", command)
            .unwrap_or_else(|e| panic!("`{command}` failed: {e:#}"))
    }

    pub(crate) fn phase(&mut self, name: &str, started: Instant) {
        self.times
            .push(format!("{name} {:.1}s", started.elapsed().as_secs_f64()));
    }

    /// Removes what a passed scenario no longer needs: its disks and the
    /// ISO with its answer. A CI machine's disk is small; a failed
    /// scenario keeps everything for whoever reads its logs.
    pub(crate) fn clean_up(&self) {
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
    pub(crate) fn report(&self) {
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

pub(crate) fn sha256(path: &Path) -> String {
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
pub(crate) const FIRSTBOOT_DONE: &str = "timeout 900 sh -c 'while [ \"$(systemctl is-active hearth-firstboot.service)\" = activating ]; do sleep 3; done'; systemctl is-active hearth-firstboot.service || tail -n 40 /var/log/hearth/provision.log";

/// Waits for the install to succeed and the machine to power off.
pub(crate) fn install_done(mut machine: Machine, dir: &Path) {
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
pub(crate) fn install_outcome(machine: &mut Machine, dir: &Path) -> String {
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
