//! The ISO of the default profile boots, under BIOS and UEFI, as a CD and as
//! a USB stick, to the live system, where the installer answers and the zfs
//! module loads. Read from the serial console.

use std::path::PathBuf;
use std::time::Instant;

use qemu_tests::accel;
use qemu_tests::iso::{built, exclusive, kernel_of, unavailable};
use qemu_tests::machine::{Builder, Firmware, Medium};

fn profile() -> String {
    std::env::var("HEARTH_TEST_PROFILE").unwrap_or_else(|_| "homelab".into())
}

fn boots_to_live_system(name: &str, firmware: Firmware, medium: Medium) {
    if let Some(why) = unavailable() {
        eprintln!("skipped {name}: {why}");
        return;
    }
    let started = Instant::now();
    let iso = built(&profile()).expect("the ISO builds");
    let build_time = started.elapsed().as_secs_f64();
    let _one_at_a_time = exclusive();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/qemu-tests")
        .join(name);
    let accel = accel::choose(&kernel_of(&iso, dir.parent().expect("parent")).expect("kernel"));
    let boot_started = Instant::now();
    let mut machine = Builder::new("live", &dir)
        .firmware(firmware)
        .iso(&iso, medium)
        .start(accel)
        .expect("qemu starts");
    machine
        .wait_for_console("Hearth live system, root shell", machine.scaled(60))
        .expect("the GRUB menu on the serial console");
    machine.send("s").expect("choose the shell entry");
    let marker = machine
        .wait_for_console(r"HEARTH-LIVE installer=\S+ zfs=\S+", machine.scaled(120))
        .expect("the live system reports itself");
    let boot_time = boot_started.elapsed().as_secs_f64();
    assert!(!marker.contains("zfs=missing"), "{marker}");
    machine
        .wait_for_console(r"(?m)[#$] $", machine.scaled(30))
        .expect("a shell prompt");
    machine.send("stty -echo\n").expect("quiet input");
    let checks_started = Instant::now();
    let version = machine
        .succeed("installer --version", machine.scaled(30))
        .expect("installer --version");
    assert!(version.starts_with("installer "), "{version}");
    let zfs = machine
        .succeed(
            "modprobe zfs && cat /sys/module/zfs/version",
            machine.scaled(30),
        )
        .expect("modprobe zfs");
    assert!(
        zfs.chars().next().is_some_and(|c| c.is_ascii_digit()),
        "zfs version: {zfs}"
    );
    let firmware_seen = machine
        .succeed(
            "test -d /sys/firmware/efi && echo uefi || echo bios",
            machine.scaled(30),
        )
        .expect("firmware");
    let expected = if firmware == Firmware::Uefi {
        "uefi"
    } else {
        "bios"
    };
    assert_eq!(firmware_seen.trim(), expected);
    let checks_time = checks_started.elapsed().as_secs_f64();
    machine.kill();
    eprintln!(
        "{name}: iso {build_time:.1}s, boot {boot_time:.1}s, checks {checks_time:.1}s ({version}, zfs {zfs})"
    );
}

#[test]
fn live_iso_bios_cdrom() {
    boots_to_live_system("live-bios-cdrom", Firmware::Bios, Medium::Cdrom);
}

#[test]
fn live_iso_uefi_cdrom() {
    boots_to_live_system("live-uefi-cdrom", Firmware::Uefi, Medium::Cdrom);
}

#[test]
fn live_iso_bios_usb_stick() {
    boots_to_live_system("live-bios-usb", Firmware::Bios, Medium::UsbStick);
}

#[test]
fn live_iso_uefi_usb_stick() {
    boots_to_live_system("live-uefi-usb", Firmware::Uefi, Medium::UsbStick);
}
