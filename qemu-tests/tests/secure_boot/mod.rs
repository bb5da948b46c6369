//! Secure Boot, on OVMF with Microsoft's keys enrolled as PCs ship them.
//! Without the build's certificate enrolled, the ISO still boots (shim,
//! Debian's signed GRUB and kernel) but the kernel refuses the zfs module,
//! and the live system's consoles say how to enroll the certificate. With
//! it enrolled as a Machine Owner Key, the live system loads the module
//! and installs a mirror; each disk alone then boots the installed system
//! with Secure Boot on, the kernel locked down, and zfs loaded, signed by
//! the build's key.

use qemu_tests::iso::build_certificate;
use qemu_tests::machine::{Builder, Firmware, Medium};

use super::Scenario;

#[test]
fn secure_boot() {
    let Some(mut scenario) = Scenario::new("secure-boot", 10) else {
        return;
    };
    let pem = build_certificate(&scenario.iso, &scenario.dir).expect("the certificate on the ISO");
    let signer = subject_cn(&pem);
    refused_without_the_certificate(&scenario);
    scenario.secure_boot = Some(vec![pem]);
    let disks = [scenario.disk("sb-disk-1", 8), scenario.disk("sb-disk-2", 8)];
    let both = [&disks[0], &disks[1]];
    scenario.install("mirror", Firmware::Uefi, &both, "", "HEARTH-INSTALL-DONE");
    let live = console_of(&scenario.dir.join("install.serial.log"));
    let line = live
        .lines()
        .find(|l| l.contains("HEARTH-LIVE"))
        .expect("the live system's line");
    assert!(line.contains("secureboot=enabled"), "{line}");
    assert!(!line.contains("zfs=missing"), "the module loads: {line}");
    for (i, disk) in disks.iter().enumerate() {
        let name = format!("disk-{}-alone", i + 1);
        let (mut server, port) = scenario.boot(&name, Firmware::Uefi, &[disk]);
        let state = scenario.root(port, "mokutil --sb-state");
        assert!(state.contains("SecureBoot enabled"), "{name}: {state}");
        let lockdown = scenario.root(port, "cat /sys/kernel/security/lockdown");
        assert!(
            !lockdown.contains("[none]"),
            "{name}: locked down: {lockdown}"
        );
        let module = scenario.root(port, "modinfo -F signer zfs; lsmod | grep -c '^zfs '");
        assert_eq!(module.trim(), format!("{signer}\n1"), "{name}");
        let esp = scenario.root(
            port,
            "for u in $(zfs get -H -o value org.hearth:esps rpool/ROOT | tr , ' '); do d=$(blkid -U $u) && break; done; mount -o ro $d /mnt && ls /mnt/EFI/BOOT /mnt; umount /mnt",
        );
        for file in [
            "BOOTX64.EFI",
            "grubx64.efi",
            "mmx64.efi",
            "hearth-build.der",
        ] {
            assert!(esp.contains(file), "{name}: {file} on the ESP:\n{esp}");
        }
        server.kill();
    }
    scenario.report();
}

/// The plain ISO on a machine that has not enrolled the certificate.
fn refused_without_the_certificate(scenario: &Scenario) {
    let mut machine = Builder::new("not-enrolled", &scenario.dir)
        .secure_boot(&[])
        .memory(2048)
        .iso(&scenario.iso, Medium::Cdrom)
        .start(scenario.accel)
        .expect("qemu");
    machine
        .wait_for_boot("HEARTH-SECUREBOOT-KEY-NOT-ENROLLED", machine.scaled(60))
        .expect("the live system says the key is not enrolled");
    let said = console_of(&machine.log);
    assert!(
        said.contains("Key was rejected by service"),
        "the kernel's key error"
    );
    assert!(said.contains("mokutil --import"), "how to enroll it");
    assert!(said.contains("Enroll key from disk"), "or from MokManager");
    machine.kill();
}

/// A serial log as text (GRUB's box drawing is not UTF-8).
fn console_of(log: &std::path::Path) -> String {
    String::from_utf8_lossy(&std::fs::read(log).expect("serial log")).to_string()
}

/// The CN of a PEM certificate: what `modinfo -F signer` prints.
fn subject_cn(pem: &std::path::Path) -> String {
    let out = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-subject", "-nameopt", "multiline", "-in"])
        .arg(pem)
        .output()
        .expect("openssl");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.trim().strip_prefix("commonName").map(str::to_string))
        .and_then(|l| l.split_once('=').map(|(_, cn)| cn.trim().to_string()))
        .expect("a CN")
}
