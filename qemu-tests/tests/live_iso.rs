//! The ISO of the default profile boots, under BIOS and UEFI, as a CD and as
//! a USB stick, to the live system, where the installer answers and the zfs
//! module loads. Read from the serial console.

use std::path::PathBuf;
use std::time::Instant;

use hearth_schema::profile::DiskKind;
use hearth_system::inventory::Inventory;
use qemu_tests::accel;
use qemu_tests::iso::{built, exclusive, kernel_of, unavailable};
use qemu_tests::machine::{Builder, Bus, Disk, Firmware, Machine, Medium};

fn profile() -> String {
    std::env::var("HEARTH_TEST_PROFILE").unwrap_or_else(|_| "homelab".into())
}

fn boots_to_live_system(name: &str, firmware: Firmware, medium: Medium) {
    boots_with_disks(name, firmware, medium, &[]);
}

/// The disks each live boot gets, and what `hearth disks` must make of them.
struct Expect {
    serial: &'static str,
    /// None: as the kernel says (virtio-blk has no rotation rate).
    kind: Option<DiskKind>,
    logical_sector: u32,
}

fn boots_with_disks(name: &str, firmware: Firmware, medium: Medium, disks: &[(Disk, Expect)]) {
    if let Some(why) = unavailable() {
        eprintln!("skipped {name}: {why}");
        return;
    }
    let started = Instant::now();
    let iso = built(&profile()).expect("the ISO builds");
    let build_time = started.elapsed().as_secs_f64();
    let _one_at_a_time = exclusive();
    if let Some(why) = qemu_tests::budget::refuse(name, 3) {
        eprintln!("skipped {name}: {why}");
        return;
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/qemu-tests")
        .join(name);
    let accel = accel::choose(&kernel_of(&iso, dir.parent().expect("parent")).expect("kernel"));
    let boot_started = Instant::now();
    let mut builder = Builder::new("live", &dir)
        .firmware(firmware)
        .iso(&iso, medium);
    for (disk, _) in disks {
        builder = builder.disk(disk);
    }
    let mut machine = builder.start(accel).expect("qemu starts");
    let marker = machine
        .live_root_shell()
        .expect("the shell entry of the boot menu, the live system's line and its shell");
    let boot_time = boot_started.elapsed().as_secs_f64();
    assert!(marker.contains("installer="), "{marker}");
    assert!(!marker.contains("zfs=missing"), "{marker}");
    let checks_started = Instant::now();
    let version = machine
        .succeed("hearth --version", machine.scaled(30))
        .expect("hearth --version");
    assert!(version.starts_with("hearth "), "{version}");
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
    machine
        .wait_for_unit("systemd-udevd.service", machine.scaled(30))
        .expect("udev runs in the live system");
    machine
        .fail("test -e /etc/hearth/plan.json", machine.scaled(30))
        .expect("the live system is not an installed one");
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
    disks_as_expected(&mut machine, disks);
    let checks_time = checks_started.elapsed().as_secs_f64();
    machine.kill();
    eprintln!(
        "{name}: iso {build_time:.1}s, boot {boot_time:.1}s, checks {checks_time:.1}s ({version}, zfs {zfs})"
    );
}

/// Also: SATA SSD and HDD, a 4Kn NVMe disk and a 4Kn virtio disk, as the
/// inventory must see them.
#[test]
fn live_iso_bios_cdrom() {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/qemu-tests/live-bios-cdrom");
    let disk = |serial: &str| Disk::blank(&dir, serial, 2).expect("disk");
    let disks = [
        (
            disk("sata-ssd-0001").on(Bus::Sata).model("Hearth SSD"),
            Expect {
                serial: "sata-ssd-0001",
                kind: Some(DiskKind::Ssd),
                logical_sector: 512,
            },
        ),
        (
            disk("sata-hdd-0002").on(Bus::Sata).spinning().sector(4096),
            Expect {
                serial: "sata-hdd-0002",
                kind: Some(DiskKind::Hdd),
                logical_sector: 512,
            },
        ),
        (
            disk("nvme-4kn-0003").on(Bus::Nvme).sector(4096),
            Expect {
                serial: "nvme-4kn-0003",
                kind: Some(DiskKind::Nvme),
                logical_sector: 4096,
            },
        ),
        (
            disk("virtio-4kn-0004").sector(4096),
            Expect {
                serial: "virtio-4kn-0004",
                kind: None,
                logical_sector: 4096,
            },
        ),
    ];
    boots_with_disks("live-bios-cdrom", Firmware::Bios, Medium::Cdrom, &disks);
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

/// The live system's inventory sees each disk as the test made it.
fn disks_as_expected(machine: &mut Machine, disks: &[(Disk, Expect)]) {
    if disks.is_empty() {
        return;
    }
    let json = machine
        .succeed("hearth disks --json", machine.scaled(60))
        .expect("hearth disks");
    let inventory: Inventory = serde_json::from_str(&json).expect("inventory JSON");
    for (_, expect) in disks {
        let disk = inventory
            .disks
            .iter()
            .find(|d| d.serial.as_deref() == Some(expect.serial))
            .unwrap_or_else(|| panic!("no disk with serial {}: {json}", expect.serial));
        if let Some(kind) = expect.kind {
            assert_eq!(disk.kind(), kind, "{disk:?}");
        }
        assert_eq!(disk.logical_sector, expect.logical_sector, "{disk:?}");
    }
}
