//! homelab's service checks, each as a user of that service does it: real
//! clients on the host through forwarded ports or ssh, and the service's
//! own tools on the server.

use std::path::Path;
use std::time::Instant;

use qemu_tests::{probe, ssh, wg_peer};

use super::Scenario;

pub mod guests;

/// The admin's Samba password in the homelab scenario; the answer carries
/// only its NT hash.
pub const SMB_PASSWORD: &str = "hearth-smb-Secret1";

/// A guest port no enabled service opens: the firewall must refuse it.
pub const PROBE_PORT: u16 = 7777;

/// smbclient against the forwarded port as admin (or as a guest: None).
pub fn smbclient(
    port: u16,
    share: &str,
    password: Option<&str>,
    commands: &str,
) -> anyhow::Result<String> {
    let mut cmd = std::process::Command::new("smbclient");
    cmd.args(["-p", &port.to_string(), &format!("//127.0.0.1/{share}")]);
    match password {
        Some(password) => cmd.args(["-U", &format!("admin%{password}")]),
        None => cmd.arg("-N"),
    };
    let out = cmd
        .args(["-m", "SMB3", "-c", commands])
        .output()
        .map_err(|e| anyhow::anyhow!("smbclient (apt install smbclient): {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // smbclient can exit 0 after a failed command; NT_STATUS_ names the failure.
    if !out.status.success() || text.contains("NT_STATUS_") {
        anyhow::bail!("smbclient {share}: {text}");
    }
    Ok(text)
}

/// Waits until smbd listens on 445 (it starts after ssh, and under TCG
/// the boot's other services slow it); on a timeout the panic shows why.
pub fn smbd_listening(scenario: &Scenario, port: u16) {
    let state = scenario.root(
        port,
        "timeout 180 sh -c 'until ss -Hltn \"sport = :445\" | grep -q .; do sleep 2; done' \
         && echo listening \
         || { systemctl status smbd --no-pager; ss -ltn; nft list ruleset; } 2>&1",
    );
    assert_eq!(state.trim(), "listening", "smbd does not listen: {state}");
}

/// The admin writes a file to their share and reads it back; a guest
/// reads the guest share and is refused at the admin's.
pub fn samba_from_outside(dir: &Path, port: u16) {
    let local = dir.join("smb-put.txt");
    std::fs::write(&local, "written over SMB from the host\n").expect("local file");
    let back = dir.join("smb-get.txt");
    smbclient(
        port,
        "family",
        Some(SMB_PASSWORD),
        &format!(
            "put {} hello.txt; get hello.txt {}",
            local.display(),
            back.display()
        ),
    )
    .expect("admin writes and reads the family share");
    assert_eq!(
        std::fs::read(&back).expect("read back"),
        std::fs::read(&local).expect("local"),
    );
    smbclient(port, "family", Some("wrong-password"), "ls")
        .expect_err("a wrong password is refused");
    smbclient(port, "media", None, "ls").expect("a guest lists the guest share");
    smbclient(port, "family", None, "ls").expect_err("a guest is refused at the family share");
}

/// A listener on a port no service opens is unreachable from outside;
/// without Hearth's table it answers, so the check can tell the difference.
pub fn firewall_from_outside(scenario: &Scenario, port: u16, probe: u16) {
    scenario.root(
        port,
        &format!("systemd-run --unit=hearth-probe systemd-socket-activate --accept --inetd -l {PROBE_PORT} cat"),
    );
    scenario.root(port, "sleep 1; systemctl is-active hearth-probe.service");
    let wait = std::time::Duration::from_secs(10);
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

/// The guest made the keys and phone's client config at first boot; the
/// host, as the phone, completes a handshake and pings through the tunnel.
pub fn wireguard_from_outside(scenario: &Scenario, port: u16, udp: u16, lan_host: &str) {
    // Nothing in wg0.conf for wg-quick's bash to run; the keys are in it, root only.
    let server_conf = scenario.root(port, "cat /etc/wireguard/wg0.conf");
    assert!(!server_conf.contains("PostUp"), "{server_conf}");
    let modes = scenario.root(
        port,
        "stat -c '%a %n' /etc/wireguard/wg0.conf /etc/wireguard/wg0.key /etc/wireguard/peers/phone.conf /etc/wireguard/peers/phone.png",
    );
    assert_eq!(modes.matches("600 ").count(), 4, "{modes}");
    assert_eq!(
        scenario
            .root(port, "systemctl is-active wg-quick@wg0")
            .trim(),
        "active"
    );
    if let Some(why) = wg_peer::unavailable() {
        eprintln!("SKIP the WireGuard handshake from the host: {why}");
        return;
    }
    let conf = scenario.root(port, "cat /etc/wireguard/peers/phone.conf");
    let peer =
        wg_peer::Peer::up(&conf, udp, &["10.8.0.1", lan_host], &scenario.dir).expect("a host peer");
    assert!(peer.ping("10.8.0.1"), "ping through the tunnel");
    // Forwarded and masqueraded onto the LAN: a host there answers the peer.
    assert!(
        peer.ping(lan_host),
        "ping {lan_host} on the server's LAN through the tunnel"
    );
    let phone = scenario.root(port, "cat /etc/wireguard/peers/phone.pub");
    let handshakes = scenario.root(port, "wg show wg0 latest-handshakes");
    let at = handshakes
        .lines()
        .find(|l| l.starts_with(phone.trim()))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|t| t.parse::<u64>().ok())
        .unwrap_or(0);
    assert!(at > 0, "the server saw phone's handshake: {handshakes}");
}

/// restic on the host backs up to the guest's rest-server as the client
/// the profile names, with the password made at first boot, and restores.
pub fn rest_server_from_outside(scenario: &Scenario, port: u16, rest: u16) {
    let password = scenario.root(port, "cat /etc/hearth/rest-server/laptop.password");
    let restic = |repo_user: &str, password: &str, repo: &str, args: &[&str]| {
        std::process::Command::new("restic")
            .args([
                "-r",
                &format!("rest:http://{repo_user}:{password}@127.0.0.1:{rest}/{repo}/"),
            ])
            .args(args)
            .env("RESTIC_PASSWORD", "the laptop's own repository key")
            .env("RESTIC_CACHE_DIR", scenario.dir.join("restic-cache"))
            .output()
            .expect("restic (apt install restic)")
    };
    let data = scenario.dir.join("laptop-files");
    std::fs::create_dir_all(&data).expect("dir");
    std::fs::write(data.join("thesis.txt"), "chapter one\n").expect("file");
    // restic records the path without `..`: restore finds it there.
    let data = std::fs::canonicalize(&data).expect("canonical path");
    let password = password.trim();
    let wait = scenario.root(port, "systemctl is-active hearth-rest-server.service");
    assert_eq!(wait.trim(), "active");
    for args in [&["init"][..], &["backup", &data.display().to_string()][..]] {
        let out = restic("laptop", password, "laptop", args);
        assert!(
            out.status.success(),
            "restic {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let restored = scenario.dir.join("laptop-restored");
    let out = restic(
        "laptop",
        password,
        "laptop",
        &[
            "restore",
            "latest",
            "--target",
            &restored.display().to_string(),
        ],
    );
    assert!(
        out.status.success(),
        "restore: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let back = restored
        .join(data.strip_prefix("/").unwrap_or(&data))
        .join("thesis.txt");
    assert_eq!(
        std::fs::read_to_string(&back).expect("restored file"),
        "chapter one\n"
    );
    // It landed on the dataset, in the client's own repository.
    scenario.root(port, "test -f /tank/backups/restic/laptop/config");
    // Straight HTTP for the refusals: restic would retry them for minutes.
    let status = |user: &str, password: &str, path: &str| {
        probe::http_status(rest, path, user, password).expect("rest-server answers")
    };
    assert_eq!(status("laptop", password, "/laptop/config"), 200);
    assert_eq!(status("laptop", "not-the-password", "/laptop/config"), 401);
    assert_ne!(
        status("laptop", password, "/desktop/config"),
        200,
        "a client reaches only its own repository"
    );
}

/// The backup unit makes the repository on first use and backs up the
/// profile's paths; `hearth restore-test` brings a file back intact.
pub fn cloud_backup(scenario: &Scenario, port: u16) {
    let timer = scenario.root(port, "systemctl is-enabled hearth-restic-backup.timer");
    assert_eq!(timer.trim(), "enabled");
    // What the admin adds for a rest: repository: its credentials.
    scenario.root(
        port,
        "printf 'RESTIC_REST_USERNAME=laptop\\nRESTIC_REST_PASSWORD=%s\\n' \"$(cat /etc/hearth/rest-server/laptop.password)\" >> /etc/hearth/restic.env",
    );
    scenario.root(port, "systemctl start hearth-restic-backup.service");
    let report = scenario.root(port, "hearth restore-test /tank/shares/family/hello.txt");
    assert!(report.contains("came back identical"), "{report}");
    let mode = scenario.root(
        port,
        "stat -c %a /etc/hearth/restic.env /etc/hearth/restic.password",
    );
    assert_eq!(mode.split_whitespace().collect::<Vec<_>>(), ["600", "600"]);
}

/// `zfs send | ssh zfsrecv@server zfs receive`, the stream passing through
/// the host: the profile's receive user lands it in its own dataset and
/// nowhere else.
pub fn zfs_receive_through_the_host(scenario: &Scenario, port: u16) {
    use std::process::Stdio;
    scenario.root(port, "zfs snapshot tank/shares/family@to-send");
    let send_to = |target: &str| {
        let mut send = ssh::command(
            &scenario.key,
            port,
            "root",
            "zfs send tank/shares/family@to-send",
        )
        .stdout(Stdio::piped())
        .spawn()
        .expect("ssh zfs send");
        let stream = send.stdout.take().expect("stream");
        // -u: a delegated user may receive but not mount.
        let received = ssh::command(
            &scenario.key,
            port,
            "zfsrecv",
            &format!("zfs receive -u {target}"),
        )
        .stdin(stream)
        .output()
        .expect("ssh zfs receive");
        let _ = send.wait();
        received
    };
    let landed = send_to("tank/backups/zfs/family");
    assert!(
        landed.status.success(),
        "zfs receive as zfsrecv: {}",
        String::from_utf8_lossy(&landed.stderr)
    );
    let names = scenario.root(port, "zfs list -H -t snapshot -o name -r tank/backups/zfs");
    assert!(names.contains("tank/backups/zfs/family@to-send"), "{names}");
    let elsewhere = send_to("tank/shares/not-yours");
    assert!(
        !elsewhere.status.success(),
        "zfsrecv received outside its dataset"
    );
    // No shell: the forced command runs only zfs receive (and list/get).
    let shell = ssh::command(&scenario.key, port, "zfsrecv", "id; cat /etc/passwd")
        .output()
        .expect("ssh");
    let said = String::from_utf8_lossy(&shell.stdout);
    assert!(
        !shell.status.success() && !said.contains("uid="),
        "zfsrecv ran a command of its own: {said}"
    );
}

/// Syncthing's GUI is bound to localhost, as the profile says: the admin
/// reaches its REST API through ssh, and the folder on tank/sync/admin is there.
pub fn syncthing_from_outside(scenario: &Scenario, port: u16) {
    let config = "/home/admin/.local/state/syncthing/config.xml";
    let key = scenario.root(
        port,
        &format!("systemctl is-active --quiet syncthing@admin && sed -n 's:.*<apikey>\\(.*\\)</apikey>.*:\\1:p' {config}"),
    );
    let local = ssh::free_port().expect("port");
    let mut tunnel = ssh::tunnel(&scenario.key, port, local, "127.0.0.1:8384").expect("tunnel");
    let started = Instant::now();
    let header = format!("X-API-Key: {}", key.trim());
    let folders = loop {
        match probe::http_get(local, "/rest/config/folders", std::slice::from_ref(&header)) {
            Ok((200, body)) => break body,
            // Syncthing may still be starting after first boot's restart.
            other if started.elapsed() < std::time::Duration::from_secs(120) => {
                eprintln!("syncthing not ready yet: {other:?}");
                std::thread::sleep(std::time::Duration::from_secs(3));
            }
            other => panic!("Syncthing's REST API: {other:?}"),
        }
    };
    assert!(folders.contains("/tank/sync/admin"), "{folders}");
    let (status, _) =
        probe::http_get(local, "/rest/config/folders", &[]).expect("REST API without a key");
    assert!(
        [401, 403].contains(&status),
        "the API wants its key: {status}"
    );
    let _ = tunnel.kill();
    let _ = tunnel.wait();
    let owner = scenario.root(port, "stat -c %U /tank/sync/admin");
    assert_eq!(owner.trim(), "admin");
}

/// The export's networks decide who mounts: the server's LAN address
/// (10.0.2.15, in 10.0.0.0/8) reads the file, loopback (in none of the
/// export's networks) is refused. The kernel's own NFS client, on the guest.
pub fn nfs_clients(scenario: &Scenario, port: u16) {
    let exports = scenario.root(port, "exportfs -v");
    assert!(exports.contains("/tank/shares/media"), "{exports}");
    assert!(exports.contains("10.0.0.0/8"), "{exports}");
    scenario.root(
        port,
        "echo 'a film' > /tank/shares/media/film.txt && mkdir -p /mnt/lan /mnt/loop",
    );
    let address = scenario.root(
        port,
        "ip -4 -o route get 1.1.1.1 | sed -n 's/.* src \\([0-9.]*\\).*/\\1/p'",
    );
    let read = scenario.root(
        port,
        &format!(
            "mount -t nfs -o vers=4.2,ro {}:/tank/shares/media /mnt/lan && cat /mnt/lan/film.txt; umount /mnt/lan",
            address.trim()
        ),
    );
    assert_eq!(read.trim(), "a film");
    let refused = ssh::run(
        &scenario.key,
        port,
        "root",
        "timeout 60 mount -t nfs -o vers=4.2,ro,retry=0 127.0.0.1:/tank/shares/media /mnt/loop",
    );
    assert!(
        refused.is_err(),
        "a client outside the export's networks mounted it"
    );
}

/// Windows' "Previous Versions" as a client sees it: after sanoid's
/// snapshots, the file changes on the server, and the admin lists the
/// versions SMB offers and reads the one from the snapshot.
pub fn previous_versions(scenario: &Scenario, port: u16, smb: u16) {
    // A snapshot named as sanoid names them (its own runs are checked
    // above), taken now: sanoid's run at boot may have taken this hour's
    // before the file was written, and takes no second one.
    let stamp = scenario.root(
        port,
        "t=$(date -u +%Y-%m-%d_%H:%M:%S) && zfs snapshot tank/shares/family@autosnap_${t}_hourly && echo $t",
    );
    let token = format!(
        "@GMT-{}",
        stamp
            .trim()
            .replace('-', ".")
            .replace('_', "-")
            .replace(':', ".")
    );
    let before = scenario.root(port, "cat /tank/shares/family/hello.txt");
    scenario.root(
        port,
        "echo 'changed after the snapshot' > /tank/shares/family/hello.txt",
    );
    // allinfo looks the file up in every version; in the boot's snapshots
    // it is missing, which smbclient reports, so its NT_STATUS is expected.
    let info = smbclient(smb, "family", Some(SMB_PASSWORD), "allinfo hello.txt")
        .unwrap_or_else(|e| e.to_string());
    assert!(info.contains(&token), "{token} not offered: {info}");
    let old = scenario.dir.join("hello-previous.txt");
    smbclient(
        smb,
        "family",
        Some(SMB_PASSWORD),
        &format!("get {token}\\hello.txt {}", old.display()),
    )
    .expect("the previous version is readable");
    assert_eq!(
        std::fs::read_to_string(&old).expect("previous version"),
        before,
        "the snapshot's version is the file before the change"
    );
}

/// The Time Machine share takes the admin's backup bundle.
pub fn time_machine_share(dir: &Path, smb: u16) {
    let bundle = dir.join("tm-probe.txt");
    std::fs::write(&bundle, "a sparsebundle would go here\n").expect("local file");
    let listed = smbclient(
        smb,
        "timemachine",
        Some(SMB_PASSWORD),
        &format!("put {} tm-probe.txt; ls", bundle.display()),
    )
    .expect("admin writes to the Time Machine share");
    assert!(listed.contains("tm-probe.txt"), "{listed}");
}

/// The admin sees the shares listed; a file deleted over SMB lands in the
/// share's recycle bin, under the admin's name.
pub fn shares_listed_and_recycled(scenario: &Scenario, port: u16, smb: u16) {
    let out = std::process::Command::new("smbclient")
        .args(["-p", &smb.to_string(), "-m", "SMB3", "-L", "//127.0.0.1"])
        .args(["-U", &format!("admin%{SMB_PASSWORD}")])
        .output()
        .expect("smbclient -L");
    let listed = String::from_utf8_lossy(&out.stdout);
    for share in ["family", "media", "timemachine"] {
        assert!(listed.contains(share), "{share} not listed: {listed}");
    }
    let local = scenario.dir.join("smb-put.txt");
    smbclient(
        smb,
        "family",
        Some(SMB_PASSWORD),
        &format!("put {} binned.txt; del binned.txt; ls", local.display()),
    )
    .expect("admin deletes a file");
    let binned = scenario.root(port, "cat /tank/shares/family/.recycle/admin/binned.txt");
    assert_eq!(
        binned,
        std::fs::read_to_string(&local).expect("local"),
        "the deleted file is in the recycle bin"
    );
}
