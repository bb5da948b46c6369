//! Every disk lost: a new install onto blank disks from the server's
//! recovery kit, its cloud backup served from the host by rest-server.
//! A wrong passphrase and another host's answer are refused first, with
//! the disks untouched.

use std::path::Path;
use std::process::{Child, Command};

use qemu_tests::machine::{Bus, Disk, Firmware};
use qemu_tests::{ssh, wg_peer};

use super::{Scenario, FIRSTBOOT_DONE};

const PASSPHRASE: &str = "a kit passphrase 2026";

/// Files written before the loss, and their SHA-256.
const DATA: &str = "head -c 1048576 /dev/urandom > /tank/shares/family/photo.raw && echo 'meeting at noon' > /tank/sync/admin/notes.txt && sync";
const HASHES: &str = "sha256sum /tank/shares/family/photo.raw /tank/sync/admin/notes.txt";

/// Debian's rest-server on the host; the guest reaches it at 10.0.2.2.
struct RestServer(Child);

impl Drop for RestServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rest_server(dir: &Path) -> Option<(RestServer, u16)> {
    let port = ssh::free_port().expect("port");
    let repos = dir.join("repositories");
    std::fs::create_dir_all(&repos).expect("repositories");
    let child = Command::new("restic-rest-server")
        .args([
            "--no-auth",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--path",
        ])
        .arg(&repos)
        .spawn();
    match child {
        Ok(child) => Some((RestServer(child), port)),
        Err(e) => {
            eprintln!(
                "skipped total-loss: restic-rest-server does not start ({e}); .ci/run installs it"
            );
            None
        }
    }
}

#[test]
fn total_loss() {
    let Some(mut scenario) = Scenario::with_iso("total-loss", 36, "homelab") else {
        return;
    };
    let Some((_rest, port)) = rest_server(&scenario.dir) else {
        return;
    };
    scenario.top_extra =
        format!("cloud-backup-repository = \"rest:http://10.0.2.2:{port}/hearth\"\n");
    let disks = five_disks(&scenario, "");
    let all: Vec<&Disk> = disks.iter().collect();
    scenario.install("homelab", Firmware::Uefi, &all, "", "HEARTH-INSTALL-DONE");
    let (mut server, guest, _) = scenario.boot_forwarding("first-boot", Firmware::Uefi, &all, &[]);
    assert_eq!(scenario.root(guest, FIRSTBOOT_DONE).trim(), "active");
    scenario.root(guest, DATA);
    let hashes = scenario.root(guest, HASHES);
    scenario.root(guest, "systemctl start hearth-restic-backup.service");
    let host_key = scenario.root(guest, "cat /etc/ssh/ssh_host_ed25519_key.pub");
    let laptop = scenario.root(guest, "cat /etc/wireguard/peers/laptop.conf");
    let (kit, _) = scenario.recovery_kit(guest, PASSPHRASE);
    server.kill();

    // Every disk is replaced by a blank one.
    let fresh = five_disks(&scenario, "new-");
    let fresh_refs: Vec<&Disk> = fresh.iter().collect();
    scenario.beside = vec![kit.clone()];
    let with_kit = |passphrase: &str| {
        format!("cloud-backup-repository = \"rest:http://10.0.2.2:{port}/hearth\"\nrecovery-kit = \"hearth.kit\"\nrecovery-kit-passphrase = \"{passphrase}\"\n")
    };
    scenario.top_extra = with_kit("not the passphrase");
    refused(
        &mut scenario,
        &fresh_refs,
        "passphrase does not open this recovery kit",
    );
    scenario.top_extra = with_kit(PASSPHRASE);
    scenario.hostname = Some("elsewhere".into());
    refused(
        &mut scenario,
        &fresh_refs,
        "the recovery kit is host total-loss's",
    );
    scenario.hostname = None;
    scenario.install(
        "homelab",
        Firmware::Uefi,
        &fresh_refs,
        "",
        "HEARTH-INSTALL-DONE",
    );
    let (mut server, guest, forwarded) =
        scenario.boot_forwarding("restored", Firmware::Uefi, &fresh_refs, &[("udp", 51820)]);
    came_back(&scenario, guest, forwarded[0], &hashes, &host_key, &laptop);
    server.kill();
    scenario.report();
}

/// The files, the identity and the tunnel of the server before the loss.
fn came_back(
    scenario: &Scenario,
    guest: u16,
    udp: u16,
    hashes: &str,
    host_key: &str,
    laptop: &str,
) {
    assert_eq!(scenario.root(guest, FIRSTBOOT_DONE).trim(), "active");
    assert_eq!(
        scenario.root(guest, HASHES),
        hashes,
        "the backup's files came back"
    );
    let log = scenario.root(
        guest,
        "grep -A3 'restored from the cloud backup' /var/log/hearth/install.log",
    );
    assert!(
        log.contains("/tank/shares/family: "),
        "the install reports the data: {log}"
    );
    let leaked = scenario.root(
        guest,
        &format!(
            "grep -rl -e '{PASSPHRASE}' /etc /var/log /var/lib/hearth /root 2>/dev/null | wc -l"
        ),
    );
    assert_eq!(
        leaked.trim(),
        "0",
        "the kit's passphrase is kept nowhere on the server"
    );
    super::homelab::identity::ssh_with_old_known_hosts(scenario, guest, host_key);
    if let Some(why) = wg_peer::unavailable() {
        eprintln!("SKIP the old peer's handshake: {why}");
    } else {
        let peer = wg_peer::Peer::up(laptop, udp, &["10.8.0.1"], &scenario.dir)
            .expect("the old laptop peer");
        assert!(
            peer.ping("10.8.0.1"),
            "the old peer config pings through the tunnel"
        );
    }
}

/// homelab's disks: two SSDs and three spinning disks.
fn five_disks(scenario: &Scenario, prefix: &str) -> Vec<Disk> {
    let ssd = |n: u32| scenario.disk(&format!("{prefix}ssd-{n}"), 8).on(Bus::Sata);
    let hdd = |n: u32| {
        scenario
            .disk(&format!("{prefix}hdd-{n}"), 16)
            .on(Bus::Sata)
            .spinning()
    };
    vec![ssd(1), ssd(2), hdd(1), hdd(2), hdd(3)]
}

/// The server's kit, made there and copied to the host.
/// The install stops with `why` on the console, every disk as blank as before.
fn refused(scenario: &mut Scenario, disks: &[&Disk], why: &str) {
    scenario.install(
        "homelab",
        Firmware::Uefi,
        disks,
        "",
        "HEARTH-INSTALL-FAILED",
    );
    // The console's bytes are not all UTF-8 (progress bars, escapes).
    let bytes = std::fs::read(scenario.dir.join("install.serial.log")).unwrap_or_default();
    let log = String::from_utf8_lossy(&bytes);
    assert!(log.contains(why), "the refusal says: {why}");
    assert!(
        log.contains("nothing was written"),
        "the refusal says nothing was written"
    );
    // Non-strict: a larger disk's tail is blank too when it reads as zeros.
    let blank = Disk::blank(&scenario.dir.join("reference"), "blank", 8).expect("a blank disk");
    for disk in disks {
        let same = Command::new("qemu-img")
            .arg("compare")
            .arg(&disk.path)
            .arg(&blank.path)
            .status()
            .expect("qemu-img compare");
        assert!(same.success(), "{} was written to", disk.path.display());
    }
}
