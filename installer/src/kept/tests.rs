//! Keep, restore and the kit on scratch systems: a server's files go onto
//! the kept folder, into a new system with other uids, and through a kit.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::{keep, kit, restore, tree};
use crate::plan::StatePlan;
use crate::services::Kept;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hearth-kept-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("etc")).expect("scratch");
    dir
}

fn system(root: &Path, admin_uid: u32) {
    let passwd = format!(
        "root:x:0:0:root:/root:/bin/bash\nadmin:x:{admin_uid}:{admin_uid}::/home/admin:/bin/bash\n"
    );
    fs::write(root.join("etc/passwd"), passwd).expect("passwd");
    let group = format!("root:x:0:\nadmin:x:{admin_uid}:\n");
    fs::write(root.join("etc/group"), group).expect("group");
}

fn file(root: &Path, path: &str, text: &str, mode: u32) {
    let at = root.join(path.trim_start_matches('/'));
    fs::create_dir_all(at.parent().expect("parent")).expect("dir");
    hearth_system::files::write_mode(&at, text.as_bytes(), mode).expect("write");
}

fn state() -> StatePlan {
    StatePlan {
        dataset: Some("tank/hearth".into()),
        mountpoint: PathBuf::from("/var/lib/hearth/kept"),
        kept: vec![
            Kept::new("/etc/ssh/ssh_host_ed25519_key", "SSH host keys"),
            Kept::new("/etc/wireguard", "WireGuard keys and peer configs"),
            Kept::new(
                "/home/admin/.local/state/syncthing",
                "Syncthing device key and config",
            ),
            Kept::record("/etc/hearth/plan.json", "the plan"),
        ],
        restore: None,
    }
}

/// A server with a host key, WireGuard keys and admin's Syncthing folder.
fn server(name: &str) -> PathBuf {
    let root = scratch(name);
    system(&root, 1000);
    file(&root, "/etc/ssh/ssh_host_ed25519_key", "host key\n", 0o600);
    file(&root, "/etc/wireguard/wg0.key", "server key\n", 0o600);
    file(
        &root,
        "/etc/wireguard/peers/phone.key",
        "phone key\n",
        0o600,
    );
    file(&root, "/etc/hearth/plan.json", "{}\n", 0o600);
    let sync = "/home/admin/.local/state/syncthing/cert.pem";
    file(&root, sync, "device cert\n", 0o644);
    let owned = root.join("home/admin/.local/state/syncthing");
    for path in [owned.join("cert.pem"), owned.clone()] {
        if std::os::unix::fs::lchown(&path, Some(1000), Some(1000)).is_err() {
            eprintln!("SKIP: owners need root; the kept-state tests run as root in .ci/run");
        }
    }
    root
}

fn can_chown() -> bool {
    fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

#[test]
fn keep_writes_what_changed_and_removes_what_is_gone() {
    let root = server("keep");
    let state = state();
    let first = keep::keep(&root, &state, "hearth", vec![]).expect("keep");
    assert_eq!(first.written.len(), 5, "{first:?}");
    let folder = root.join("var/lib/hearth/kept");
    let mode = fs::metadata(&folder).expect("folder").permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "the kept folder is root's alone");
    let again = keep::keep(&root, &state, "hearth", vec![]).expect("keep again");
    assert!(
        again.written.is_empty() && again.removed.is_empty(),
        "{again:?}"
    );
    file(&root, "/etc/wireguard/wg0.key", "new server key\n", 0o600);
    fs::remove_file(root.join("etc/wireguard/peers/phone.key")).expect("rm");
    let changed = keep::keep(&root, &state, "hearth", vec![]).expect("keep changed");
    assert_eq!(changed.written, [PathBuf::from("/etc/wireguard/wg0.key")]);
    assert_eq!(
        changed.removed,
        [PathBuf::from("/etc/wireguard/peers/phone.key")]
    );
    let manifest = tree::read_manifest(&folder)
        .expect("read")
        .expect("manifest");
    assert!(!manifest
        .entries
        .iter()
        .any(|e| e.path.ends_with("phone.key")));
    fs::remove_dir_all(&root).expect("cleanup");
}

#[test]
fn a_reinstall_gets_the_files_back_with_modes_and_owners_by_name() {
    let root = server("reinstall");
    let state = state();
    keep::keep(&root, &state, "hearth", vec![]).expect("keep");
    let folder = root.join("var/lib/hearth/kept");
    let manifest = tree::read_manifest(&folder)
        .expect("read")
        .expect("manifest");
    let target = scratch("target");
    system(&target, 1001);
    let restored = restore::put_back(&state, "hearth", &target, &manifest, |e| {
        tree::content(&folder, e)
    })
    .expect("put back");
    assert_eq!(
        restored.by_what.get("WireGuard keys and peer configs"),
        Some(&2)
    );
    let key = target.join("etc/ssh/ssh_host_ed25519_key");
    assert_eq!(fs::read_to_string(&key).expect("key"), "host key\n");
    assert_eq!(
        fs::metadata(&key).expect("meta").permissions().mode() & 0o777,
        0o600
    );
    assert!(
        !target.join("etc/hearth/plan.json").exists(),
        "a record is not put back"
    );
    if can_chown() {
        for path in [
            "home/admin/.local",
            "home/admin/.local/state/syncthing/cert.pem",
        ] {
            let uid = fs::metadata(target.join(path)).expect("meta").uid();
            assert_eq!(uid, 1001, "{path}: admin's uid on the new system");
        }
    }
    // A damaged kept file stops the restore before anything is written.
    file(
        &root,
        "/var/lib/hearth/kept/files/etc/wireguard/wg0.key",
        "bitrot\n",
        0o600,
    );
    let other = scratch("damaged");
    system(&other, 1001);
    let err = restore::put_back(&state, "hearth", &other, &manifest, |e| {
        tree::content(&folder, e)
    })
    .expect_err("damaged");
    assert!(format!("{err:#}").contains("damaged"), "{err:#}");
    assert!(!other.join("etc/ssh").exists(), "nothing written");
    for dir in [root, target, other] {
        fs::remove_dir_all(dir).expect("cleanup");
    }
}

#[test]
fn a_kit_opens_with_its_passphrase_only() {
    let root = server("kit");
    let state = state();
    let collected = tree::collect(&root, &state.kept).expect("collect");
    let manifest = tree::Manifest {
        hostname: "hearth".into(),
        pools: vec![("tank".into(), "123".into())],
        kept_at: 1,
        entries: collected.iter().map(|(e, _)| e.clone()).collect(),
    };
    let info = kit::Info {
        format: 1,
        hostname: "hearth".into(),
        fqdn: "hearth.home.arpa".into(),
        profile: "homelab".into(),
        made_at: 1,
        made_by: "test".into(),
    };
    let mut sealed = Vec::new();
    kit::write(
        &mut sealed,
        &info,
        &manifest,
        &collected,
        "correct horse battery",
    )
    .expect("write");
    assert!(
        sealed.starts_with(b"age-encryption.org/v1\n"),
        "an age file"
    );
    assert!(
        !sealed.windows(10).any(|w| w == b"server key"),
        "nothing in the clear"
    );
    let opened = kit::open(sealed.as_slice(), "correct horse battery").expect("open");
    assert_eq!(opened.info, info);
    assert_eq!(opened.manifest, manifest);
    let entry = manifest
        .entries
        .iter()
        .find(|e| e.path.ends_with("wg0.key"))
        .expect("wg0.key");
    assert_eq!(opened.content(entry).expect("content"), b"server key\n");
    let wrong = kit::open(sealed.as_slice(), "wrong horse battery").expect_err("wrong");
    assert!(
        format!("{wrong:#}").contains("passphrase does not open"),
        "{wrong:#}"
    );
    let junk = kit::open(&b"not a kit"[..], "x").expect_err("junk");
    assert!(
        format!("{junk:#}").contains("not a Hearth recovery kit"),
        "{junk:#}"
    );
    fs::remove_dir_all(root).expect("cleanup");
}
