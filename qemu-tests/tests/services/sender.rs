//! A second machine that backs up to the server: the minimal profile
//! installed from the scenario's own ISO on a disk of its own, booted
//! beside the server. It reaches the server's ssh at 10.0.2.2 (QEMU's user
//! network maps that address to the host's loopback, where the server's
//! port is forwarded), so what it sends crosses a network as a LAN
//! machine's would.

use std::io::Write;
use std::process::Stdio;
use std::time::Instant;

use qemu_tests::machine::{Builder, Disk, Firmware, Machine, Medium};
use qemu_tests::{ssh, test_machine};

use super::super::profiles::{install, Unattended};
use super::super::Scenario;

pub struct Sender {
    machine: Machine,
    /// Its ssh on the host.
    pub port: u16,
}

impl Sender {
    /// Installs the minimal profile on a blank disk and boots it.
    pub fn start(scenario: &mut Scenario) -> Sender {
        let started = Instant::now();
        let profile = test_machine::load_profile("minimal").expect("minimal loads");
        let answer = test_machine::answer_text(&profile, "sender", &scenario.public, "poweroff");
        let disk = Disk::blank(&scenario.dir, "sender-disk", 8).expect("disk");
        let how = Unattended {
            name: "sender-install",
            ..Unattended::new(&answer, (Firmware::Uefi, Medium::Cdrom))
        };
        install(scenario, &how, &[&disk]);
        let port = ssh::free_port().expect("port");
        let mut machine = Builder::new("sender", &scenario.dir)
            .firmware(Firmware::Uefi)
            .ssh_forward(port)
            .disk(&disk)
            .start(scenario.accel)
            .expect("qemu");
        machine
            .wait_for_boot("login:", machine.scaled(90))
            .expect("the sender boots");
        ssh::wait(&scenario.key, port, "root", machine.scaled(30)).expect("ssh into the sender");
        scenario.phase("second machine", started);
        Sender { machine, port }
    }

    /// Runs `command` as root on the sender.
    pub fn root(&self, scenario: &Scenario, command: &str) -> String {
        ssh::run(&scenario.key, self.port, "root", command)
            .unwrap_or_else(|e| panic!("on the sender, `{command}` failed: {e:#}"))
    }

    /// Gives the sender the test's private key: the one the server's
    /// receive user takes.
    pub fn take_key(&self, scenario: &Scenario) {
        let key = std::fs::read(&scenario.key).expect("the test's key");
        let mut child = ssh::command(
            &scenario.key,
            self.port,
            "root",
            "umask 077 && mkdir -p /root/.ssh && cat > /root/.ssh/id_ed25519",
        )
        .stdin(Stdio::piped())
        .spawn()
        .expect("ssh");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(&key)
            .expect("key");
        assert!(
            child.wait().expect("ssh").success(),
            "the key reached the sender"
        );
    }

    pub fn stop(mut self) {
        self.machine.kill();
    }
}
