//! The server's identity across a reinstall that keeps tank: what clients
//! hold of it before the boot disks die, and the same clients after.

use std::path::Path;
use std::process::Command;

use qemu_tests::wg_peer;

use super::Scenario;

/// What the server's clients know of it.
pub struct Identity {
    host_key: String,
    laptop_conf: String,
    restic_password: String,
    snapshots: Vec<String>,
    rest_password: String,
    hashes: String,
}

/// Files whose bytes are the identity itself: the Syncthing device key
/// (the device ID is its certificate's hash), an app's database secret,
/// the machine ID (the DHCP lease).
const SAME_BYTES: &str = "sha256sum /home/admin/.local/state/syncthing/cert.pem /home/admin/.local/state/syncthing/key.pem /etc/hearth/apps/nextcloud/db-password /etc/machine-id";

pub fn record(scenario: &Scenario, port: u16, rest: u16) -> Identity {
    let restic_password = scenario.root(port, "cat /etc/hearth/restic.password");
    let rest_password = scenario.root(port, "cat /etc/hearth/rest-server/laptop.password");
    let mut identity = Identity {
        host_key: scenario.root(port, "cat /etc/ssh/ssh_host_ed25519_key.pub"),
        laptop_conf: scenario.root(port, "cat /etc/wireguard/peers/laptop.conf"),
        restic_password: restic_password.trim().into(),
        snapshots: Vec::new(),
        rest_password: rest_password.trim().into(),
        hashes: scenario.root(port, SAME_BYTES),
    };
    identity.snapshots = snapshots(scenario, rest, &identity);
    assert!(
        !identity.snapshots.is_empty(),
        "the cloud backup has a snapshot"
    );
    // The state is on tank before the disks die (first boot kept it).
    let kept = scenario.root(port, "hearth keep && stat -c %a /var/lib/hearth/kept");
    assert!(kept.trim_end().ends_with("700"), "{kept}");
    identity
}

/// The old clients, unchanged, against the reinstalled server.
pub fn unchanged(scenario: &Scenario, port: u16, udp: u16, rest: u16, old: &Identity) {
    let log = scenario.root(
        port,
        "grep -c 'restored from tank/hearth' /var/log/hearth/install.log",
    );
    assert_eq!(log.trim(), "1", "the install restored the kept state");
    ssh_with_old_known_hosts(scenario, port, &old.host_key);
    assert_eq!(
        scenario.root(port, SAME_BYTES),
        old.hashes,
        "device key, app secret, machine ID"
    );
    let now = snapshots(scenario, rest, old);
    for id in &old.snapshots {
        assert!(
            now.contains(id),
            "snapshot {id} listed with the old password: {now:?}"
        );
    }
    backup_with_old_client_password(scenario, rest, &old.rest_password);
    // First boot found the keys and secrets made: it changed none of them.
    let made = scenario.root(
        port,
        "grep -E '^(# )?changed: [a-z-]+: .*(generate|password of|configuration in)' /var/log/hearth/provision.log || true",
    );
    assert_eq!(made.trim(), "", "first boot made these anew");
    if let Some(why) = wg_peer::unavailable() {
        eprintln!("SKIP the old peer's handshake: {why}");
        return;
    }
    let peer = wg_peer::Peer::up(&old.laptop_conf, udp, &["10.8.0.1"], &scenario.dir)
        .expect("the old laptop peer");
    assert!(
        peer.ping("10.8.0.1"),
        "the old peer config pings through the tunnel"
    );
}

pub fn ssh_with_old_known_hosts(scenario: &Scenario, port: u16, host_key: &str) {
    let known = scenario.dir.join("known_hosts.before");
    let key = host_key
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    std::fs::write(&known, format!("[127.0.0.1]:{port} {key}\n")).expect("known_hosts");
    let out = Command::new("ssh")
        .args(["-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes"])
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", known.display()))
        .args([
            "-o",
            "HostKeyAlgorithms=ssh-ed25519",
            "-p",
            &port.to_string(),
            "-i",
        ])
        .arg(&scenario.key)
        .args(["root@127.0.0.1", "true"])
        .output()
        .expect("ssh");
    assert!(
        out.status.success(),
        "ssh with the old known_hosts: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Snapshot IDs of the server's cloud backup, read from the host with the
/// repository password as it was before.
fn snapshots(scenario: &Scenario, rest: u16, id: &Identity) -> Vec<String> {
    let repo = format!(
        "rest:http://laptop:{}@127.0.0.1:{rest}/laptop/hearth",
        id.rest_password
    );
    let out = restic(
        scenario,
        &repo,
        &id.restic_password,
        &["snapshots", "--json"],
    );
    let listed: serde_json::Value = serde_json::from_slice(&out).expect("restic snapshots --json");
    let ids = listed.as_array().into_iter().flatten();
    ids.filter_map(|s| s["id"].as_str().map(String::from))
        .collect()
}

fn backup_with_old_client_password(scenario: &Scenario, rest: u16, password: &str) {
    let repo = format!("rest:http://laptop:{password}@127.0.0.1:{rest}/laptop/");
    let data = scenario.dir.join("laptop-files");
    std::fs::write(data.join("after-reinstall.txt"), "chapter two\n").expect("file");
    let path = data.display().to_string();
    restic(
        scenario,
        &repo,
        super::super::services::backup::CLIENT_REPOSITORY_KEY,
        &["backup", &path],
    );
}

fn restic(scenario: &Scenario, repo: &str, password: &str, args: &[&str]) -> Vec<u8> {
    let out = Command::new("restic")
        .args(["-r", repo])
        .args(args)
        .env("RESTIC_PASSWORD", password)
        .env(
            "RESTIC_CACHE_DIR",
            Path::new(&scenario.dir).join("restic-cache"),
        )
        .output()
        .expect("restic (apt install restic)");
    assert!(
        out.status.success(),
        "restic {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
