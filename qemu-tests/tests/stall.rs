//! A guest whose console stays silent through a boot wait is taken for
//! frozen: its log is kept, the freeze is listed, and it boots again.

use std::time::Duration;

use qemu_tests::machine::Builder;

#[test]
fn a_silent_guest_is_booted_again_once() {
    if !hearth_system::runner::on_path("qemu-system-x86_64") {
        eprintln!("SKIP: qemu-system-x86_64 missing (.ci/run installs it)");
        return;
    }
    let root = std::env::temp_dir().join(format!("hearth-stall-{}", std::process::id()));
    let dir = root.join("silent");
    // No disk and no medium: SeaBIOS finds nothing to boot and the serial
    // console never prints.
    let mut machine = Builder::new("silent", &dir)
        .start(qemu_tests::accel::Accel::Tcg)
        .expect("qemu");
    let outcome = machine.wait_for_boot("login:", Duration::from_secs(4));
    assert!(outcome.is_err(), "a silent guest never matches");
    assert!(dir.join("silent.serial.frozen.log").exists());
    assert!(dir.join("silent.serial.frozen.registers").exists());
    let stalls = std::fs::read_to_string(root.join("stalls.txt")).expect("stalls.txt");
    assert_eq!(stalls.lines().count(), 1, "{stalls}");
    assert!(stalls.contains("silent.serial.log"), "{stalls}");
    let registers =
        std::fs::read_to_string(dir.join("silent.serial.frozen.registers")).expect("registers");
    assert!(registers.contains("EIP="), "{registers}");
    // The machine booted again is driven as before, monitor included.
    let running = machine.monitor("info status").expect("the monitor answers");
    assert!(running.contains("running"), "{running}");
    machine.kill();
    let _ = std::fs::remove_dir_all(&root);
}
