//! QEMU's monitor answers, and a drive can be added while it runs: what
//! the day-two scenario's pulled disk relies on.

use qemu_tests::machine::{Builder, Disk};

#[test]
fn the_monitor_answers_and_takes_a_drive() {
    if !hearth_system::runner::on_path("qemu-system-x86_64") {
        eprintln!("SKIP: qemu-system-x86_64 missing (.ci/run installs it)");
        return;
    }
    let dir = std::env::temp_dir().join(format!("hearth-hotplug-{}", std::process::id()));
    let disk = Disk::blank(&dir, "hot-1", 1).expect("disk").hotplug();
    let mut machine = Builder::new("hotplug", &dir)
        .disk(&disk)
        .start(qemu_tests::accel::Accel::Tcg)
        .expect("qemu");
    let block = machine.monitor("info block").expect("monitor");
    assert!(block.contains("disk0"), "{block}");
    let other = Disk::blank(&dir, "hot-2", 1).expect("disk");
    let added = machine
        .monitor(&format!(
            "drive_add 0 if=none,id=extra,format=qcow2,file={}",
            other.path.display()
        ))
        .expect("drive_add");
    assert!(added.contains("OK"), "{added}");
    machine.kill();
    let _ = std::fs::remove_dir_all(&dir);
}
