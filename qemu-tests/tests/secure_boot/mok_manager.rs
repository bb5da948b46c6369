//! The enrolments a person does, end to end, through shim's MokManager
//! driven over the serial console (OVMF mirrors its text screen there),
//! with no key put in by the test. On a machine with Secure Boot on and
//! only Microsoft's keys, the live system refuses zfs; its root shell
//! asks for the build's certificate with `mokutil --import` and a one-time
//! password, as the live system's message says; at the next boot
//! MokManager enrolls it (Enroll MOK, Continue, Yes, the password,
//! Reboot), and the live system loads zfs. On those same variables the
//! install runs with the password's hash in the answer; at the installed
//! system's first boot MokManager enrolls the machine's own key the same
//! way, and a module DKMS builds with that key then loads.

use std::time::{Duration, Instant};

use hearth_system::secure_boot::{BUILD_CERT, DIR};
use qemu_tests::machine::{Builder, Firmware, Machine, Medium};

use super::super::Scenario;
use super::PROBE_MODULE;

/// The one-time password, and `openssl passwd -6` of it (what
/// `mokutil --hash-file` takes).
const PASSWORD: &str = "hearth-enrol-4729";
const HASH: &str = "$6$hearthenrol$EOPcBefGcYzTdkRpCwT2aio7.2wMMsYDbRBAMtRS38G5gk4kWeEkJHaIjMcDhl4ePCuPhbk5ctnuimQ0zFr8h1";

/// Down one menu item, then Enter (the firmware's terminal reads VT100).
const DOWN_ENTER: &str = "\x1b[B\r";

#[test]
fn mok_manager() {
    let Some(mut scenario) = Scenario::new("mok-manager", 15) else {
        return;
    };
    let started = Instant::now();
    let cert = format!("{DIR}/{BUILD_CERT}");
    let mut machine = live_shell(&scenario, false);
    let refused = machine
        .fail("modprobe zfs", machine.scaled(60))
        .expect("zfs refused while the certificate is unknown");
    assert!(refused.contains("Key was rejected by service"), "{refused}");
    let asked = machine
        .succeed(
            &format!(
                "printf '%s\\n' '{HASH}' > /run/mok.hash; mokutil --import {cert} --hash-file /run/mok.hash; rm /run/mok.hash; mokutil --list-new | grep -q 'CN=Hearth image build' && echo waiting"
            ),
            machine.scaled(60),
        )
        .expect("mokutil --import");
    assert_eq!(asked.trim(), "waiting", "the request waits for MokManager");
    machine.send("systemctl reboot\n").expect("reboot");
    machine
        .wait_for_exit(machine.scaled(120))
        .expect("the live system reboots");
    scenario.phase("request", started);

    let started = Instant::now();
    let mut machine = live(&scenario);
    enrol(&mut machine, PASSWORD).expect("MokManager enrolls the certificate");
    machine
        .wait_for_exit(machine.scaled(60))
        .expect("MokManager reboots");
    scenario.phase("mokmanager", started);

    let started = Instant::now();
    let mut machine = live_shell(&scenario, true);
    let loaded = machine
        .succeed(
            &format!("modprobe zfs && lsmod | grep -c '^zfs '; mokutil --test-key {cert} || true"),
            machine.scaled(60),
        )
        .expect("zfs loads once the certificate is enrolled");
    assert!(loaded.starts_with('1'), "{loaded}");
    assert!(loaded.contains("already enrolled"), "{loaded}");
    machine.kill();
    scenario.phase("enrolled", started);
    the_machine_key_at_first_boot(&mut scenario);
    scenario.report();
}

/// The install on the variables MokManager left, asking shim to enroll the
/// machine's key; the first boot's MokManager enrolls it.
fn the_machine_key_at_first_boot(scenario: &mut Scenario) {
    scenario.secure_boot = Some(Vec::new());
    scenario.keep_vars = true;
    scenario.top_extra = format!("mok-password-hash = \"{HASH}\"\n");
    let disk = scenario.disk("mok-disk", 8);
    scenario.install(
        "minimal",
        Firmware::Uefi,
        &[&disk],
        "",
        "HEARTH-INSTALL-DONE",
    );
    let started = Instant::now();
    let mut machine = Builder::new("first-boot", &scenario.dir)
        .secure_boot(&[])
        .keep_vars()
        .disk(&disk)
        .start(scenario.accel)
        .expect("qemu");
    enrol(&mut machine, PASSWORD).expect("MokManager enrolls the machine's key");
    machine
        .wait_for_exit(machine.scaled(60))
        .expect("MokManager reboots");
    scenario.phase("first boot's mokmanager", started);
    let (mut server, port) = scenario.boot("enrolled-machine-key", Firmware::Uefi, &[&disk]);
    let built = scenario.root(port, PROBE_MODULE);
    assert!(
        built.contains("Hearth machine"),
        "DKMS signed it with the machine's key: {built}"
    );
    let loaded = scenario.root(
        port,
        "modprobe hearth_probe && lsmod | grep -c '^hearth_probe '; mokutil --test-key /var/lib/dkms/mok.pub || true",
    );
    assert!(
        loaded.starts_with('1'),
        "the machine-signed module loads: {loaded}"
    );
    assert!(loaded.contains("already enrolled"), "{loaded}");
    let status = scenario.root(port, "hearth status || true");
    assert!(
        status.contains("machine key: CN=Hearth machine"),
        "{status}"
    );
    assert!(!status.contains("NOT enrolled"), "{status}");
    server.kill();
}

/// The ISO as a USB stick on a machine with Secure Boot on and only
/// Microsoft's keys, its variables kept from the machine before (an
/// enrolment request, or what MokManager wrote).
fn live(scenario: &Scenario) -> Machine {
    Builder::new("live", &scenario.dir)
        .secure_boot(&[])
        .keep_vars()
        .memory(2048)
        .iso(&scenario.iso, Medium::UsbStick)
        .start(scenario.accel)
        .expect("qemu")
}

/// The live system's root shell on the serial console; checks what the
/// system says of zfs.
fn live_shell(scenario: &Scenario, enrolled: bool) -> Machine {
    let mut machine = live(scenario);
    let line = machine
        .live_root_shell()
        .expect("the live system's root shell");
    assert!(line.contains("secureboot=enabled"), "{line}");
    assert_eq!(!line.contains("zfs=missing"), enrolled, "{line}");
    machine
}

/// Walks MokManager's screens: each is waited for by its last words, then
/// answered.
fn enrol(machine: &mut Machine, password: &str) -> anyhow::Result<()> {
    let wait = machine.scaled(60);
    let entered = format!("{password}\r");
    let screens: [(&str, &str); 6] = [
        ("Press any key to perform MOK management", " "),
        // Continue boot, Enroll MOK, Enroll key from disk, ...
        ("Enroll hash from disk", DOWN_ENTER),
        // [Enroll MOK]: View key 0, Continue
        ("View key 0[\\s\\S]*Continue", DOWN_ENTER),
        // Enroll the key(s)? No, Yes
        ("Enroll the key\\(s\\)\\?[\\s\\S]*Yes", DOWN_ENTER),
        ("Password:", &entered),
        // Reboot (the first item, now that the list changed), ...
        ("Reboot[\\s\\S]*Enroll hash from disk", "\r"),
    ];
    for (words, keys) in screens {
        machine.wait_for_console(words, wait)?;
        // The menu reads keys once it has drawn itself.
        std::thread::sleep(Duration::from_secs(2));
        machine.send(keys)?;
    }
    Ok(())
}
