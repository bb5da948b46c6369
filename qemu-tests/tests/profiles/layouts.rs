//! Layouts no shipped profile has (qemu-tests/layouts/<name>.toml), each a
//! scenario `layout_<name>` on the minimal ISO: the layout's profile file
//! goes onto the ISO beside the answer, which names it by path. A
//! `<name>.test.toml` beside it may say how the test machine differs:
//! `medium = "usb"` (the ISO as a USB stick), `sector = 4096` (4Kn disks)
//! and `[skip]` (`test_machine::sidecar`).

use std::path::PathBuf;
use std::time::Instant;

use qemu_tests::machine::{Disk, Firmware, Medium};
use qemu_tests::test_machine;

use super::super::services;
use super::{boot, check, install, wanted, Scenario, Unattended};

pub fn layout(name: &str) {
    let test = format!("layout-{name}");
    if !wanted(&test) {
        return;
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("layouts");
    let path = dir.join(format!("{name}.toml"));
    let profile = hearth_schema::load::profile_with(&path, |_| Vec::new())
        .map_err(|p| p.to_string())
        .expect("the layout loads")
        .value;
    let machine = test_machine::sidecar(&path, services::CHECKS).expect("the layout's .test.toml");
    let Some(mut scenario) = Scenario::with_iso(&test, 10, "minimal") else {
        return;
    };
    let disks: Vec<Disk> = test_machine::disks(&profile, &scenario.dir, "disk")
        .expect("the test machine")
        .into_iter()
        .map(|d| d.sector(machine.sector))
        .collect();
    let medium = if machine.usb {
        Medium::UsbStick
    } else {
        Medium::Cdrom
    };
    let on_medium = format!("/run/live/medium/hearth/{name}.toml");
    let answer = test_machine::answer_text(&profile, &test, &scenario.public, "poweroff").replacen(
        &format!("profile = \"{name}\""),
        &format!("profile = \"{on_medium}\""),
        1,
    );
    let all: Vec<&Disk> = disks.iter().collect();
    let how = Unattended {
        beside: &[path.as_path()],
        ..Unattended::new(&answer, (Firmware::Uefi, medium))
    };
    install(&mut scenario, &how, &all);
    let started = Instant::now();
    let (mut server, port, _) = boot(
        &mut scenario,
        "first-boot",
        (Firmware::Uefi, &profile),
        &all,
    );
    check(&scenario, port);
    if machine.sector == 4096 {
        let sizes = scenario.root(port, "lsblk -d -n -o LOG-SEC | sort -u");
        assert_eq!(sizes.trim(), "4096", "every disk 4Kn");
    }
    server.kill();
    scenario.phase("checks", started);
    scenario.report();
}
