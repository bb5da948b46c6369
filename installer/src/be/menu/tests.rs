use super::*;
use std::process::Command;

fn entries() -> Vec<MenuEntry> {
    ["hearth-20261204-1", "hearth"]
        .iter()
        .map(|name| MenuEntry {
            name: name.to_string(),
            made: "2026-12-04 10:31".into(),
            cmdline: format!("root=ZFS=rpool/ROOT/{name} boot=zfs"),
        })
        .collect()
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hearth-be-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

#[test]
fn each_environment_has_an_entry_newest_first() {
    let cfg = grub_cfg("1A2B-3C4D", &entries());
    assert!(cfg.contains("search --no-floppy --fs-uuid --set=root 1A2B-3C4D"));
    let new = cfg.find("--id hearth-20261204-1").expect("the new entry");
    let old = cfg.find("--id hearth {").expect("the old entry");
    assert!(new < old);
    assert!(
        cfg.contains("linux /env/hearth/vmlinuz root=ZFS=rpool/ROOT/hearth boot=zfs console=tty1")
    );
    assert!(cfg.contains("initrd /env/hearth-20261204-1/initrd.img"));
}

/// GRUB's own parser takes the menu.
#[test]
fn grub_script_check_takes_the_menu() {
    if !hearth_system::runner::on_path("grub-script-check") {
        eprintln!("SKIP: grub-script-check missing (.ci/run installs grub-common)");
        return;
    }
    let file = scratch("menu").join("grub.cfg");
    std::fs::write(&file, grub_cfg("1A2B-3C4D", &entries())).expect("menu");
    let out = Command::new("grub-script-check")
        .arg(&file)
        .output()
        .expect("grub-script-check");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// grub-editenv reads what we write, and we read what it writes.
#[test]
fn the_environment_block_is_grubs_own_format() {
    if !hearth_system::runner::on_path("grub-editenv") {
        eprintln!("SKIP: grub-editenv missing (.ci/run installs grub-common)");
        return;
    }
    let file = scratch("env").join("grubenv");
    let state = BootState::activate("hearth-2", Some("hearth"));
    let bytes = state.encode();
    assert_eq!(bytes.len(), 1024);
    std::fs::write(&file, bytes).expect("block");
    let listed = Command::new("grub-editenv")
        .arg(&file)
        .arg("list")
        .output()
        .expect("grub-editenv");
    let listed = String::from_utf8_lossy(&listed.stdout).to_string();
    assert!(listed.contains("hearth_default=hearth-2\n"), "{listed}");
    assert!(listed.contains("hearth_trial=new\n"), "{listed}");
    let set = Command::new("grub-editenv")
        .arg(&file)
        .args(["set", "hearth_trial=booting"])
        .status()
        .expect("grub-editenv set");
    assert!(set.success());
    let read = BootState::decode(&std::fs::read_to_string(&file).expect("block"));
    assert_eq!(read.trial, "booting");
    assert_eq!(read.fallback, "hearth");
}

fn state(default: &str, fallback: &str, trial: &str, failed: &str) -> BootState {
    BootState {
        default: default.into(),
        fallback: fallback.into(),
        trial: trial.into(),
        failed: failed.into(),
    }
}

#[test]
fn a_trial_that_comes_up_settles_on_every_esp() {
    let booted = state("new", "old", "booting", "");
    let other = state("new", "old", "new", "");
    assert_eq!(
        after_boot(&[other, booted], "new"),
        state("new", "old", "", "")
    );
}

#[test]
fn a_fallback_grub_made_on_one_esp_reaches_the_others() {
    let fell = state("old", "old", "", "new");
    let other = state("new", "old", "new", "");
    assert_eq!(after_boot(&[other, fell.clone()], "old"), fell);
}

#[test]
fn an_older_entry_picked_by_hand_leaves_the_trial_for_later() {
    let booted = state("new", "old", "booting", "");
    assert_eq!(after_boot(&[booted], "old"), state("new", "old", "new", ""));
    let settled = state("new", "", "", "");
    assert_eq!(after_boot(std::slice::from_ref(&settled), "old"), settled);
}
