//! The network services as their clients reach them: the firewall, a
//! WireGuard peer on the host, NFS mounts, Syncthing's API.

use std::time::{Duration, Instant};

use hearth_schema::profile::Profile;
use qemu_tests::{probe, ssh, wg_peer};

use super::super::Scenario;
use super::{Forwards, PROBE_PORT};

/// A listener on a port no service opens is unreachable from outside;
/// without Hearth's table it answers, so the check can tell the difference.
pub fn firewall_from_outside(scenario: &Scenario, port: u16, probe: u16) {
    scenario.root(
        port,
        &format!("systemd-run --unit=hearth-probe systemd-socket-activate --accept --inetd -l {PROBE_PORT} cat"),
    );
    scenario.root(port, "sleep 1; systemctl is-active hearth-probe.service");
    let wait = Duration::from_secs(10);
    assert!(
        !probe::echoes(probe, wait),
        "port {PROBE_PORT} is closed from outside"
    );
    scenario.root(port, "nft delete table inet hearth");
    assert!(
        probe::echoes(probe, wait),
        "without the firewall the probe answers"
    );
    scenario.root(
        port,
        "systemctl reload nftables && nft list table inet hearth >/dev/null",
    );
    assert!(
        !probe::echoes(probe, wait),
        "closed again once the ruleset is back"
    );
    scenario.root(port, "systemctl stop hearth-probe.service");
}

/// Proxmox's web UI port.
pub const WEB_UI: u16 = 8006;

/// A Proxmox base's web UI answers the LAN and nobody else: from the host
/// (in the profile's LAN) it answers; with the LAN set moved to a network
/// the host is not in, the same connection gets nothing while ssh (open
/// to all) still works; back once the ruleset is reloaded.
pub fn web_ui_lan_only(scenario: &Scenario, port: u16, ui: u16) {
    let wait = Duration::from_secs(10);
    let first = probe::first_line(ui, wait);
    assert!(
        !first.is_empty(),
        "nothing answers on {WEB_UI} from the LAN"
    );
    scenario.root(
        port,
        "nft flush set inet hearth lan4 && nft add element inet hearth lan4 '{ 192.0.2.0/24 }'",
    );
    let outside = probe::first_line(ui, wait);
    assert!(
        outside.is_empty(),
        "{WEB_UI} answered outside the LAN: {outside}"
    );
    scenario.root(port, "systemctl reload nftables");
    assert_eq!(probe::first_line(ui, wait), first, "back with the LAN");
}

/// The first peer whose keys the server made: its client config came from
/// first boot; the host, as that peer, completes a handshake and pings the
/// server's tunnel address, and `lan_host` on the server's LAN when given.
pub fn wireguard_from_outside(
    scenario: &Scenario,
    port: u16,
    profile: &Profile,
    forwards: &Forwards,
    lan_host: Option<&str>,
) {
    let Some(wireguard) = &profile.services.wireguard else {
        return;
    };
    let Some(peer) = wireguard.peers.iter().find(|p| p.public_key.is_none()) else {
        return;
    };
    let name = &peer.name;
    let server = wireguard.address.split('/').next().unwrap_or_default();
    // Nothing in wg0.conf for wg-quick's bash to run; the keys are in it, root only.
    let server_conf = scenario.root(port, "cat /etc/wireguard/wg0.conf");
    assert!(!server_conf.contains("PostUp"), "{server_conf}");
    let modes = scenario.root(
        port,
        &format!("stat -c '%a %n' /etc/wireguard/wg0.conf /etc/wireguard/wg0.key /etc/wireguard/peers/{name}.conf /etc/wireguard/peers/{name}.png"),
    );
    assert_eq!(modes.matches("600 ").count(), 4, "{modes}");
    let active = scenario.root(port, "systemctl is-active wg-quick@wg0");
    assert_eq!(active.trim(), "active");
    if let Some(why) = wg_peer::unavailable() {
        eprintln!("SKIP the WireGuard handshake from the host: {why}");
        return;
    }
    let conf = scenario.root(port, &format!("cat /etc/wireguard/peers/{name}.conf"));
    let mut through = vec![server];
    through.extend(lan_host);
    let udp = forwards.udp(wireguard.listen_port);
    let host_peer = wg_peer::Peer::up(&conf, udp, &through, &scenario.dir).expect("a host peer");
    // WireGuard retries a lost handshake every 5 s; under TCG the first
    // may take a few rounds.
    let started = Instant::now();
    while !host_peer.ping(server) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "ping {server} through the tunnel"
        );
    }
    // Forwarded and masqueraded onto the LAN: a host there answers the peer.
    if let Some(lan_host) = lan_host {
        assert!(
            host_peer.ping(lan_host),
            "ping {lan_host} on the server's LAN through the tunnel"
        );
    }
    let public = scenario.root(port, &format!("cat /etc/wireguard/peers/{name}.pub"));
    let handshakes = scenario.root(port, "wg show wg0 latest-handshakes");
    let at = handshakes
        .lines()
        .find(|l| l.starts_with(public.trim()))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|t| t.parse::<u64>().ok())
        .unwrap_or(0);
    assert!(at > 0, "the server saw {name}'s handshake: {handshakes}");
}

/// Each export's networks decide who mounts: the server's LAN address
/// (the test machine's network lies in the profile's LAN) reads a file,
/// loopback is refused unless an export names it. The kernel's own NFS
/// client, on the guest.
pub fn nfs_clients(scenario: &Scenario, port: u16, profile: &Profile) {
    let Some(nfs) = &profile.services.nfs else {
        return;
    };
    let exports = scenario.root(port, "exportfs -v");
    let address = scenario.root(
        port,
        "ip -4 -o route get 1.1.1.1 | sed -n 's/.* src \\([0-9.]*\\).*/\\1/p'",
    );
    let address = address.trim();
    for (n, export) in nfs.exports.iter().enumerate() {
        let path = export.path.display();
        assert!(exports.contains(&path.to_string()), "{path}: {exports}");
        let read = scenario.root(
            port,
            &format!(
                "echo 'over NFS' > '{path}/nfs-{n}.txt' && mkdir -p /mnt/nfs-{n} \
                 && mount -t nfs -o vers=4.2,ro {address}:'{path}' /mnt/nfs-{n} \
                 && cat /mnt/nfs-{n}/nfs-{n}.txt; umount /mnt/nfs-{n}"
            ),
        );
        assert_eq!(read.trim(), "over NFS", "{path} from {address}");
        let open_to_loopback = export
            .clients
            .iter()
            .any(|c| c == "*" || c.starts_with("127.") || c == "localhost");
        if open_to_loopback {
            continue;
        }
        let refused = ssh::run(
            &scenario.key,
            port,
            "root",
            &format!(
                "timeout 60 mount -t nfs -o vers=4.2,ro,retry=0 127.0.0.1:'{path}' /mnt/nfs-{n}"
            ),
        );
        assert!(
            refused.is_err(),
            "a client outside {path}'s networks mounted it"
        );
    }
}

/// Syncthing's GUI bound to localhost, as the profile says: each user
/// reaches its REST API through ssh, and their folder is there.
pub fn syncthing_from_outside(scenario: &Scenario, port: u16, profile: &Profile) {
    let Some(syncthing) = &profile.services.syncthing else {
        return;
    };
    for user in &syncthing.users {
        let name = &user.name;
        let folder = scenario.root(
            port,
            &format!("zfs get -H -o value mountpoint {}", user.dataset),
        );
        let folder = folder.trim();
        let config = format!("/home/{name}/.local/state/syncthing/config.xml");
        let key = scenario.root(
            port,
            &format!("systemctl is-active --quiet syncthing@{name} && sed -n 's:.*<apikey>\\(.*\\)</apikey>.*:\\1:p' {config}"),
        );
        let local = ssh::free_port().expect("port");
        let remote = format!("127.0.0.1:{}", user.gui_port);
        let mut tunnel = ssh::tunnel(&scenario.key, port, local, &remote).expect("tunnel");
        let header = format!("X-API-Key: {}", key.trim());
        let folders = api_folders(local, &header);
        assert!(folders.contains(folder), "{folder}: {folders}");
        let (status, _) =
            probe::http_get(local, "/rest/config/folders", &[]).expect("REST API without a key");
        assert!(
            [401, 403].contains(&status),
            "the API wants its key: {status}"
        );
        let _ = tunnel.kill();
        let _ = tunnel.wait();
        let owner = scenario.root(port, &format!("stat -c %U '{folder}'"));
        assert_eq!(owner.trim(), name.as_str());
    }
}

fn api_folders(local: u16, header: &str) -> String {
    let started = Instant::now();
    loop {
        match probe::http_get(local, "/rest/config/folders", &[header.to_string()]) {
            Ok((200, body)) => return body,
            // Syncthing may still be starting after first boot's restart.
            other if started.elapsed() < Duration::from_secs(120) => {
                eprintln!("syncthing not ready yet: {other:?}");
                std::thread::sleep(Duration::from_secs(3));
            }
            other => panic!("Syncthing's REST API: {other:?}"),
        }
    }
}
