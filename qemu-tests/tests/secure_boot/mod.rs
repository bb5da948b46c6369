//! Secure Boot, on OVMF with Microsoft's keys enrolled as PCs ship them.
//! Without the build's certificate enrolled, the ISO on a USB stick still
//! boots (shim, Debian's signed GRUB and kernel) but the kernel refuses the zfs module,
//! and the live system's consoles say how to enroll the certificate. With
//! it enrolled as a Machine Owner Key, the live system loads the module
//! and installs a mirror, asking shim to enroll the machine's own key
//! (`mok-password-hash` in the answer). Each disk alone then boots the
//! installed system with Secure Boot on, the kernel locked down, and zfs
//! loaded, signed by the build's key. A module DKMS builds there is
//! signed by the machine's key: refused while that key is not enrolled,
//! loaded once it is.

use std::path::{Path, PathBuf};

use qemu_tests::iso::build_certificate;
use qemu_tests::machine::secure_boot::pem_of;
use qemu_tests::machine::{Builder, Firmware, Medium};

use super::Scenario;

mod mok_manager;

/// `openssl passwd -6` of a one-time password: what MokManager would ask.
const MOK_HASH: &str =
    "$6$hearthmok$2fh7wQaETmeZrT6/AdMcJvzh7NSVUEVEg4sZFhW5K0L7sLF7aXI3DEXBKeK4DvWJWL3XRSoVXIIthiZAvOaqU.";

#[test]
fn secure_boot() {
    let Some(mut scenario) = Scenario::new("secure-boot", 12) else {
        return;
    };
    let build =
        build_certificate(&scenario.iso, &scenario.dir).expect("the certificate on the ISO");
    let signer = subject_cn(&build);
    refused_without_the_certificate(&scenario);
    scenario.secure_boot = Some(vec![build.clone()]);
    scenario.top_extra = format!("mok-password-hash = \"{MOK_HASH}\"\n");
    let disks = [scenario.disk("sb-disk-1", 8), scenario.disk("sb-disk-2", 8)];
    scenario.install(
        "mirror",
        Firmware::Uefi,
        &[&disks[0], &disks[1]],
        "",
        "HEARTH-INSTALL-DONE",
    );
    let live = console_of(&scenario.dir.join("install.serial.log"));
    let line = live
        .lines()
        .find(|l| l.contains("HEARTH-LIVE"))
        .expect("the live system's line");
    assert!(line.contains("secureboot=enabled"), "{line}");
    assert!(!line.contains("zfs=missing"), "the module loads: {line}");

    // The machine's key is not enrolled yet (its enrolment waits in
    // MokManager): DKMS's module is refused.
    // On the variables the install left: its enrolment request waits.
    scenario.keep_vars = true;
    let (mut server, port) = scenario.boot("disk-1-alone", Firmware::Uefi, &[&disks[0]]);
    scenario.keep_vars = false;
    signed_chain(&scenario, port, &signer, "disk-1-alone");
    let said = console_of(&server.log);
    assert!(
        said.contains("MOK management"),
        "shim offers the pending enrolment"
    );
    let built = scenario.root(port, PROBE_MODULE);
    assert!(
        built.contains("Hearth machine"),
        "DKMS signed it with the machine's key: {built}"
    );
    let refused = scenario.root(port, "modprobe hearth_probe 2>&1 || true");
    assert!(refused.contains("Key was rejected by service"), "{refused}");
    let status = scenario.root(port, "hearth status || true");
    assert!(
        status.contains("machine key: CN=Hearth machine"),
        "{status}"
    );
    assert!(status.contains("(NOT enrolled)"), "{status}");
    let machine = machine_certificate(&scenario, port);
    server.kill();

    // Both keys enrolled (as MokManager would after the password).
    scenario.secure_boot = Some(vec![build, machine]);
    let (mut server, port) = scenario.boot("disk-2-alone", Firmware::Uefi, &[&disks[1]]);
    signed_chain(&scenario, port, &signer, "disk-2-alone");
    // This disk missed the first one's writes (each booted alone): DKMS
    // builds the module here again, with the same machine key.
    let built = scenario.root(port, PROBE_MODULE);
    assert!(built.contains("Hearth machine"), "{built}");
    let loaded = scenario.root(
        port,
        "modprobe hearth_probe && lsmod | grep -c '^hearth_probe '",
    );
    assert_eq!(loaded.trim(), "1", "the machine-signed module loads");
    let status = scenario.root(port, "hearth status || true");
    assert!(!status.contains("NOT enrolled"), "{status}");
    server.kill();
    scenario.report();
}

/// Secure Boot on, the kernel locked down, zfs signed by the build and
/// loaded, and the boot chain and certificates on the ESP.
fn signed_chain(scenario: &Scenario, port: u16, signer: &str, name: &str) {
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
        &format!(
            "{ESP}; mount -o ro $d /mnt && ls /mnt/EFI/BOOT /mnt/EFI/debian /mnt; umount /mnt"
        ),
    );
    for file in [
        "BOOTX64.EFI",
        "grubx64.efi",
        "mmx64.efi",
        "fbx64.efi",
        "shimx64.efi",
        "BOOTX64.CSV",
        "hearth-build.der",
        "hearth-machine.der",
    ] {
        assert!(esp.contains(file), "{name}: {file} on the ESP:\n{esp}");
    }
    fallback_entry(scenario, port, name);
}

/// The device of the first ESP found of those the root pool names.
const ESP: &str = "for u in $(zfs get -H -o value org.hearth:esps rpool/ROOT | tr , ' '); do d=$(blkid -U $u) && break; done";

/// Shim's fallback loader, run from this disk's removable path, wrote a
/// firmware entry for this disk's vendor directory (its partition's GPT
/// UUID and `\EFI\debian\shimx64.efi`).
fn fallback_entry(scenario: &Scenario, port: u16, name: &str) {
    let said = scenario.root(
        port,
        &format!("{ESP}; blkid -s PARTUUID -o value $d; efibootmgr -v"),
    );
    let said = said.to_lowercase();
    let partuuid = said.lines().next().unwrap_or_default().trim().to_string();
    assert!(partuuid.len() == 36, "{name}: the ESP's PARTUUID:\n{said}");
    let entry = said.lines().find(|line| {
        line.contains("hearth")
            && line.contains(&partuuid)
            && line.contains(r"\efi\debian\shimx64.efi")
    });
    assert!(
        entry.is_some(),
        "{name}: a firmware entry for this disk's shim:\n{said}"
    );
}

/// A module of one empty init, built and installed by DKMS, which signs
/// it with the machine's key; prints its signer.
const PROBE_MODULE: &str = r#"set -e
src=/usr/src/hearth-probe-1.0
mkdir -p $src
printf '%s\n' '#include <linux/module.h>' 'MODULE_LICENSE("GPL");' \
  'static int __init probe_init(void) { return 0; }' \
  'static void __exit probe_exit(void) {}' \
  'module_init(probe_init);' 'module_exit(probe_exit);' > $src/hearth_probe.c
echo 'obj-m := hearth_probe.o' > $src/Makefile
printf '%s\n' 'PACKAGE_NAME="hearth-probe"' 'PACKAGE_VERSION="1.0"' \
  'BUILT_MODULE_NAME[0]="hearth_probe"' 'DEST_MODULE_LOCATION[0]="/updates/dkms"' \
  'AUTOINSTALL="yes"' > $src/dkms.conf
dkms add hearth-probe/1.0 >/dev/null
dkms install hearth-probe/1.0 >/dev/null
modinfo -F signer hearth_probe"#;

/// The machine's certificate, copied off the server, as PEM.
fn machine_certificate(scenario: &Scenario, port: u16) -> PathBuf {
    let der = scenario.file_bytes(port, "/var/lib/dkms/mok.pub");
    let path = scenario.dir.join("hearth-machine.der");
    std::fs::write(&path, der).expect("machine certificate");
    let pem = scenario.dir.join("hearth-machine.pem");
    pem_of(&path, &pem).expect("PEM");
    pem
}

/// The plain ISO, dd'ed to a USB stick (the install boots it as a CD), on
/// a machine that has not enrolled the certificate.
fn refused_without_the_certificate(scenario: &Scenario) {
    let mut machine = Builder::new("not-enrolled", &scenario.dir)
        .secure_boot(&[])
        .memory(2048)
        .iso(&scenario.iso, Medium::UsbStick)
        .start(scenario.accel)
        .expect("qemu");
    machine
        .wait_for_boot("HEARTH-SECUREBOOT-KEY-NOT-ENROLLED", machine.scaled(60))
        .expect("the live system says the key is not enrolled");
    // Both consoles run the live system's report; the serial one's words
    // may come after the other's marker.
    let phrases = [
        "Key was rejected by service",
        "mokutil --import",
        "Enroll key from disk",
    ];
    let started = std::time::Instant::now();
    let said = loop {
        let said = console_of(&machine.log);
        if phrases.iter().all(|p| said.contains(p)) || started.elapsed().as_secs() > 120 {
            break said;
        }
        std::thread::sleep(std::time::Duration::from_secs(1));
    };
    for phrase in phrases {
        assert!(said.contains(phrase), "the serial console says {phrase:?}");
    }
    machine.kill();
}

/// A serial log as text (GRUB's box drawing is not UTF-8).
fn console_of(log: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(log).expect("serial log")).to_string()
}

/// The CN of a PEM certificate: what `modinfo -F signer` prints.
fn subject_cn(pem: &Path) -> String {
    let out = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-subject", "-nameopt", "multiline", "-in"])
        .arg(pem)
        .output()
        .expect("openssl");
    hearth_system::secure_boot::common_name(&String::from_utf8_lossy(&out.stdout)).expect("a CN")
}
