use super::*;

fn minimal() -> Profile {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../profiles/minimal.toml");
    crate::load_profile(std::path::Path::new(path))
        .expect("the minimal profile loads")
        .value
}

fn file<'a>(files: &'a [File], path: &str) -> &'a File {
    files
        .iter()
        .find(|f| f.path == std::path::Path::new(path))
        .unwrap_or_else(|| panic!("{path} is written"))
}

#[test]
fn the_config_names_the_pool_and_the_kernels_arguments() {
    let profile = minimal();
    let files = BootEnvironments.files(&profile);
    let config: Config =
        serde_json::from_str(&file(&files, CONFIG).content).expect("the config is JSON");
    assert_eq!(config.pool, "rpool");
    assert_eq!(config.args, "boot=zfs");
    assert_eq!((config.keep, config.snapshots), (3, 10));
    assert_eq!(
        config.cmdline("hearth-2"),
        "root=ZFS=rpool/ROOT/hearth-2 boot=zfs"
    );
}

#[test]
fn the_hooks_are_executable_and_the_same_on_every_server() {
    let files = BootEnvironments.files(&minimal());
    for path in SYNC_HOOKS {
        let hook = file(&files, path);
        assert_eq!(hook.mode.bits(), 0o755);
        assert_eq!(hook.content, SYNC_HOOK_TEXT);
    }
    assert!(file(&files, APT_HOOK)
        .content
        .contains("DPkg::Pre-Invoke { \"/usr/bin/hearth be snapshot --before-apt\"; };"));
}

#[test]
fn the_deadline_follows_the_profile() {
    let mut profile = minimal();
    profile.boot_environments.fallback_minutes = 4;
    let files = BootEnvironments.files(&profile);
    let timer = &file(&files, &format!("/etc/systemd/system/{DEADLINE_TIMER}")).content;
    assert!(timer.contains("OnBootSec=4min\n"), "{timer}");
    assert!(timer.contains("ConditionKernelCommandLine=hearth.trial\n"));
}

#[test]
fn settings_out_of_range_are_refused_by_key() {
    let mut profile = minimal();
    profile.boot_environments.keep = 0;
    profile.boot_environments.fallback_minutes = 500;
    let found = crate::check::findings(&profile);
    let text: Vec<String> = found
        .iter()
        .map(|f| format!("{}: {}", f.key, f.message))
        .collect();
    assert!(
        text.contains(&"boot-environments.keep: 0 is out of range: must be 1 to 20".to_string()),
        "{text:?}"
    );
    assert!(text
        .iter()
        .any(|t| t.starts_with("boot-environments.fallback-minutes")));
}
