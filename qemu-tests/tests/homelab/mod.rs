//! homelab's checks after its install and after its reinstall: the pools
//! the filters made, every service from outside, and what a reinstall that
//! keeps tank brings back.

use std::time::Instant;

pub mod identity;

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

/// Each service from outside, with real clients, through the forwarded ports.
pub fn service_checks(scenario: &mut Scenario, port: u16, forwarded: [u16; 5]) {
    let [smb, probe, wireguard, rest, app] = forwarded;
    let started = Instant::now();
    services::smbd_listening(scenario, port);
    services::samba_from_outside(&scenario.dir, smb);
    services::firewall_from_outside(scenario, port, probe);
    services::rest_server_from_outside(scenario, port, rest);
    services::cloud_backup(scenario, port);
    services::zfs_receive_through_the_host(scenario, port);
    services::syncthing_from_outside(scenario, port);
    services::nfs_clients(scenario, port);
    let driver = scenario.root(port, "docker info --format '{{.Driver}}'");
    assert_eq!(driver.trim(), "zfs", "Docker keeps its layers as datasets");
    services::guests::compose_app_from_outside(scenario, port, app);
    let container = services::guests::incus_guests(scenario, port);
    services::wireguard_from_outside(scenario, port, wireguard, &container);
    services::guests::replication(scenario, port);
    let pool = scenario.root(port, "incus storage show default");
    assert!(
        pool.contains("driver: zfs") && pool.contains("source: tank/incus"),
        "{pool}"
    );
    let nic = scenario.root(port, "incus profile device get default eth0 parent");
    assert_eq!(nic.trim(), "br0", "guests join the host's bridge");
    // sanoid takes the profile's snapshots (the timer would, within 15 minutes).
    let snapshots = scenario.root(
        port,
        "sanoid --cron && zfs list -H -t snapshot -o name -r tank/shares rpool/home",
    );
    for wanted in [
        "tank/shares/family@autosnap_",
        "_hourly",
        "rpool/home@autosnap_",
        "_daily",
    ] {
        assert!(snapshots.contains(wanted), "{wanted}: {snapshots}");
    }
    services::previous_versions(scenario, port, smb);
    services::time_machine_share(&scenario.dir, smb);
    services::shares_listed_and_recycled(scenario, port, smb);
    scenario.phase("service checks", started);
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
