//! `hearth status` over fixtures of what the tools print.

use std::collections::BTreeMap;

use super::probe::Probe;
use super::status::{changes, collect};

/// Answers by the command line; anything else fails, as a missing tool does.
struct Fixture(BTreeMap<String, String>);

impl Probe for Fixture {
    fn output(&self, program: &str, args: &[&str]) -> Option<(bool, String)> {
        let line = format!("{program} {}", args.join(" "));
        self.0.get(&line).map(|out| (true, out.clone()))
    }
}

const NOW: u64 = 1_800_000_000;

fn machine(health: &str, failed: &str, snapshot_age: u64) -> Fixture {
    let mut map = BTreeMap::new();
    let mut put = |k: &str, v: String| map.insert(k.to_string(), v);
    put(
        "zpool list -H -p -o name,health,size,free,capacity",
        format!("rpool\tONLINE\t10737418240\t8589934592\t20\ntank\t{health}\t21474836480\t10737418240\t50\n"),
    );
    put(
        "zfs get -H -o value encryption,keystatus,encryptionroot,keylocation tank",
        "aes-256-gcm\navailable\ntank\nfile:///etc/zfs/keys/tank.key\n".into(),
    );
    put(
        "zpool status -j",
        r#"{"pools":{"tank":{"scan_stats":{"function":"SCRUB","state":"FINISHED","end_time":"Tue Dec  1 03:00:00 2026","errors":"0"}}}}"#.into(),
    );
    put(
        "smartctl --scan -j",
        r#"{"devices":[{"name":"/dev/sda"}]}"#.into(),
    );
    put(
        "smartctl -j -H -i -A /dev/sda",
        r#"{"model_name":"QEMU HARDDISK","smart_status":{"passed":true},"temperature":{"current":31}}"#.into(),
    );
    put(
        "systemctl list-units --state=failed --all --output=json --no-pager",
        format!("[{failed}]"),
    );
    put(
        "apt-get -s -o Debug::NoLocking=1 dist-upgrade",
        "Inst libc6 [2.41-12] (2.41-12+deb13u1 Debian-Security:13/stable-security [amd64])\nInst tzdata [2025b] (2025c Debian:13.3/stable [all])\n".into(),
    );
    put(
        "systemctl list-timers --all --output=json --no-pager",
        "[]".into(),
    );
    put(
        "zfs list -H -p -t snapshot -o name,creation -s creation -d 1 tank/shares",
        format!("tank/shares@autosnap_1\t{}\n", NOW - snapshot_age),
    );
    Fixture(map)
}

fn profile() -> crate::profile::Profile {
    let text = "name = \"t\"\n[system]\n[[storage.pools]]\nname = \"rpool\"\nrole = \"root\"\ntopology = \"stripe\"\ndisks = { count = 1 }\n[services.snapshots]\n[[services.snapshots.policies]]\ndatasets = [\"tank/shares\"]\nhourly = 24\n";
    toml::from_str(text).expect("profile")
}

#[test]
fn a_healthy_server_needs_nothing_and_says_what_it_found() {
    let status = collect(&machine("ONLINE", "", 600), Some(&profile()), NOW);
    assert_eq!(status.attention, Vec::new());
    assert_eq!(
        status.pools[1].last_scan,
        "SCRUB FINISHED at Tue Dec  1 03:00:00 2026, 0 errors"
    );
    assert_eq!(status.disks[0].passed, Some(true));
    // Pending, but unattended-upgrades installs them.
    assert_eq!(status.security_updates, vec!["libc6".to_string()]);
}

#[test]
fn an_encrypted_pool_says_its_key_and_a_locked_one_needs_attention() {
    let mut machine = machine("ONLINE", "", 600);
    let status = collect(&machine, Some(&profile()), NOW);
    assert_eq!(status.pools[0].encryption, "off");
    assert_eq!(
        status.pools[1].encryption,
        "aes-256-gcm, key file, key available (root tank)"
    );
    machine.0.insert(
        "zfs get -H -o value encryption,keystatus,encryptionroot,keylocation tank".into(),
        "aes-256-gcm\nunavailable\ntank\nfile:///etc/zfs/keys/tank.key\n".into(),
    );
    let status = collect(&machine, Some(&profile()), NOW);
    let keys: Vec<&str> = status.attention.iter().map(|a| a.key.as_str()).collect();
    assert_eq!(keys, ["key-tank"]);
}

#[test]
fn a_degraded_pool_a_failed_unit_and_an_old_snapshot_need_attention() {
    let failed = r#"{"unit":"hearth-restic-backup.service","load":"loaded","active":"failed"}"#;
    let status = collect(
        &machine("DEGRADED", failed, 3 * 3600),
        Some(&profile()),
        NOW,
    );
    let keys: Vec<&str> = status.attention.iter().map(|a| a.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "pool-tank",
            "unit-hearth-restic-backup.service",
            "snapshot-tank/shares"
        ]
    );
    assert!(
        status.attention[2].what.contains("3h old"),
        "{:?}",
        status.attention
    );
    let (new, gone) = changes(&["pool-tank".into(), "full-tank".into()], &status.attention);
    assert_eq!(new.len(), 2);
    assert_eq!(gone, vec!["full-tank".to_string()]);
}
