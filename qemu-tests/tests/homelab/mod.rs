//! homelab's checks after its install and after its reinstall: the pools
//! the filters made, every service from outside, and what a reinstall that
//! keeps tank brings back.

use std::time::Instant;

pub mod identity;

use qemu_tests::machine::{Bus, Firmware};
use qemu_tests::test_machine;

use super::{services, sha256, Scenario, FIRSTBOOT_DONE};

/// The pools and datasets as the profile lays them out, and first boot done.
pub fn storage_checks(scenario: &mut Scenario, port: u16) {
    let started = Instant::now();
    assert_eq!(
        scenario.root(port, "zpool status -x").trim(),
        "all pools are healthy"
    );
    let tank = scenario.root(port, "zpool list -v -H -P tank");
    assert!(tank.contains("raidz1-0"), "{tank}");
    assert_eq!(
        tank.matches("_hdd-").count(),
        3,
        "the three spinning disks: {tank}"
    );
    let rpool = scenario.root(port, "zpool list -v -H -P rpool");
    assert!(rpool.contains("mirror-0"), "{rpool}");
    assert_eq!(rpool.matches("_ssd-").count(), 2, "the two SSDs: {rpool}");
    for (mountpoint, dataset) in [
        ("/tank/shares/family", "tank/shares/family"),
        ("/var/lib/docker", "rpool/docker"),
        ("/home", "rpool/home"),
    ] {
        let source = scenario.root(port, &format!("findmnt -n -o SOURCE {mountpoint}"));
        assert_eq!(source.trim(), dataset, "{mountpoint}");
    }
    let media = scenario.root(port, "zfs get -H -o value recordsize tank/shares/media");
    assert_eq!(media.trim(), "1M");
    // The configs written at install time pass their own validators there.
    scenario.root(port, "testparm -s >/dev/null 2>&1");
    // First boot: hearth-firstboot ran `hearth provision`; a second run changes nothing.
    assert_eq!(scenario.root(port, FIRSTBOOT_DONE).trim(), "active");
    let allowed = scenario.root(port, "zfs allow tank/backups/zfs");
    assert!(allowed.contains("user zfsrecv"), "{allowed}");
    let key = scenario.root(port, "stat -c '%a %U' /etc/wireguard/wg0.key");
    assert_eq!(
        key.trim(),
        "600 root",
        "the server key is made on the target"
    );
    let again = scenario.root(port, "hearth provision");
    assert!(again.contains("nothing changed"), "{again}");
    scenario.phase("storage checks", started);
}

/// After the reinstall that kept tank: the data, the guests and SMB are back.
pub fn reprovisioned(scenario: &Scenario, port: u16, smb: u16, written: &str) {
    assert_eq!(
        scenario.root(port, "zpool status -x").trim(),
        "all pools are healthy"
    );
    // The admin's Samba password is imported by the new system's first boot.
    assert_eq!(scenario.root(port, FIRSTBOOT_DONE).trim(), "active");
    services::smbd_listening(scenario, port);
    // Incus's state was on tank too: the container is back, running.
    let container = scenario.root(port, "incus list debian -c s -f csv");
    assert_eq!(
        container.trim(),
        "RUNNING",
        "the container outlived the reinstall"
    );
    assert_eq!(
        scenario.root(port, "sha256sum /tank/shares/family/precious"),
        written,
        "the kept pool's file is intact"
    );
    // And the admin reaches it over SMB again, with the answer's password.
    let copy = scenario.dir.join("precious-over-smb");
    services::smbclient(
        smb,
        "family",
        Some(services::SMB_PASSWORD),
        &format!("get precious {}", copy.display()),
    )
    .expect("admin reads the kept file over SMB");
    assert_eq!(
        sha256(&copy),
        written.split_whitespace().next().unwrap_or_default()
    );
    let log = scenario.root(
        port,
        "grep -c 'zpool create .* tank' /var/log/hearth/install.log || true",
    );
    assert_eq!(log.trim(), "0", "tank was imported, never created again");
}

/// The default profile on its disk layout: a root mirror on two SATA SSDs,
/// a raidz1 data pool on three spinning SATA disks, chosen by the profile's
/// filters. Then the boot disks "die": a reinstall onto two blank SSDs with
/// `keep` for tank imports it with its files intact.
#[test]
fn homelab() {
    let Some(mut scenario) = Scenario::with_iso("homelab", 36, "homelab") else {
        return;
    };
    let ssd = |s: &Scenario, serial: &str| s.disk(serial, 8).on(Bus::Sata);
    let hdd = |s: &Scenario, serial: &str| s.disk(serial, 16).on(Bus::Sata).spinning();
    let root = [ssd(&scenario, "ssd-1"), ssd(&scenario, "ssd-2")];
    let data = [
        hdd(&scenario, "hdd-1"),
        hdd(&scenario, "hdd-2"),
        hdd(&scenario, "hdd-3"),
    ];
    let all = [&root[0], &root[1], &data[0], &data[1], &data[2]];
    let profile = test_machine::load_profile("homelab").expect("homelab loads");
    // The cloud backup goes to this server's own rest-server, as the
    // profile's client "laptop": a LAN backup target, on one machine.
    // The test's key is also a machine that sends snapshots here.
    (scenario.top_extra, scenario.admin_extra) = services::answer_lines(&profile, &scenario.public);
    scenario.install("homelab", Firmware::Uefi, &all, "", "HEARTH-INSTALL-DONE");
    // Room for the profile's VM, which the service checks start.
    scenario.memory = super::profiles::machine_memory(&profile);
    let wanted = services::wanted(&profile);
    let (mut server, port, hosts) =
        scenario.boot_forwarding("first-boot", Firmware::Uefi, &all, &wanted);
    let forwards = services::Forwards(
        wanted
            .iter()
            .zip(hosts)
            .map(|((p, g), h)| (*p, *g, h))
            .collect(),
    );
    storage_checks(&mut scenario, port);

    let run = services::Run {
        forwards: &forwards,
        second_machine: false,
        skip: &Default::default(),
    };
    services::check_all(&mut scenario, port, &profile, &run);

    let written = scenario.root(
        port,
        "head -c 1048576 /dev/urandom > /tank/shares/family/precious && sync && sha256sum /tank/shares/family/precious",
    );
    let identity = identity::record(&scenario, port, forwards.tcp(8000));
    // The boot disks die without a clean shutdown: tank is never exported.
    server.kill();

    let fresh = [ssd(&scenario, "new-ssd-1"), ssd(&scenario, "new-ssd-2")];
    let all = [&fresh[0], &fresh[1], &data[0], &data[1], &data[2]];
    scenario.install(
        "homelab",
        Firmware::Uefi,
        &all,
        "\n[pools.tank]\nkeep = true\n",
        "HEARTH-INSTALL-DONE",
    );
    let (mut server, port, forwarded) = scenario.boot_forwarding(
        "reprovisioned",
        Firmware::Uefi,
        &all,
        &[("tcp", 445), ("udp", 51820), ("tcp", 8000)],
    );
    let [smb, wireguard, rest] = forwarded[..] else {
        panic!("three forwards")
    };
    reprovisioned(&scenario, port, smb, &written);
    identity::unchanged(&scenario, port, wireguard, rest, &identity);
    server.kill();
    scenario.report();
}
