use super::*;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hearth-esp-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("scratch");
    dir
}

fn env(root: &Path, name: &str, created: u64, initrd: &str) -> EnvBoot {
    let boot = root.join(name);
    fs::create_dir_all(&boot).expect("boot");
    fs::write(boot.join("vmlinuz"), format!("kernel of {name}")).expect("kernel");
    fs::write(boot.join("initrd.img"), initrd).expect("initrd");
    EnvBoot {
        name: name.into(),
        created,
        kernel: boot.join("vmlinuz"),
        initrd: boot.join("initrd.img"),
        cmdline: format!("root=ZFS=rpool/ROOT/{name} boot=zfs"),
        protected: true,
    }
}

#[test]
fn every_environment_lands_in_its_folder_and_in_the_menu() {
    let work = scratch("sync");
    let esp = work.join("esp");
    fs::create_dir_all(esp.join("env/destroyed")).expect("stale folder");
    fs::write(esp.join("vmlinuz"), "old layout").expect("old kernel");
    let envs = [
        env(&work, "hearth-2", 2_000, "initrd two"),
        env(&work, "hearth", 1_000, "initrd one"),
    ];
    let state = BootState::activate("hearth-2", Some("hearth"));
    let runner = Runner::new(None, false).expect("runner");
    let synced = sync_dir(&esp, "1A2B-3C4D", &envs, &state, &runner).expect("sync");
    assert_eq!(synced.copied, ["hearth-2", "hearth"]);
    assert_eq!(synced.removed, ["destroyed"]);
    assert_eq!(
        fs::read_to_string(esp.join("env/hearth/initrd.img")).expect("copied"),
        "initrd one"
    );
    let cfg = fs::read_to_string(esp.join("grub/grub.cfg")).expect("menu");
    assert!(cfg.contains("--id hearth-2 {") && cfg.contains("--id hearth {"));
    assert_eq!(read_state(&esp), state);
    assert!(!esp.join("vmlinuz").exists());

    // A second sync copies only what changed.
    fs::write(&envs[1].initrd, "initrd one, rebuilt").expect("new initrd");
    let again = sync_dir(&esp, "1A2B-3C4D", &envs, &state, &runner).expect("sync");
    assert_eq!(again.copied, ["hearth"]);
    assert_eq!(
        sha256(&esp.join("env/hearth/initrd.img")).expect("hash"),
        sha256(&envs[1].initrd).expect("hash")
    );
    let _ = fs::remove_dir_all(&work);
}
