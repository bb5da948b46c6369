//! Guests, apps and replication in the homelab scenario: Incus and Docker
//! run what the ISO carried, offline; syncoid copies a dataset to tank.

use qemu_tests::probe;

use super::super::Scenario;

/// The container of the profile runs from the ISO's image, gets an address
/// on the bridge by DHCP and runs a command; the VM is defined. Returns
/// the container's LAN address.
pub fn incus_guests(scenario: &Scenario, port: u16) -> String {
    let state = scenario.root(port, "incus list debian -c s -f csv");
    assert_eq!(state.trim(), "RUNNING", "the profile's container runs");
    let address = scenario.root(
        port,
        "timeout 120 sh -c 'until incus list debian -c 4 -f csv | grep -q eth0; do sleep 3; done'; incus list debian -c 4 -f csv",
    );
    assert!(
        address.contains("10.0.2.") && address.contains("(eth0)"),
        "the container has an address on br0: {address}"
    );
    let lan_address = address
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string();
    let release = scenario.root(port, "incus exec debian -- cat /etc/debian_version");
    assert!(release.trim().starts_with("13"), "{release}");
    // Defined, not started: a VM needs KVM to run, which TCG lacks.
    let vm = scenario.root(port, "incus config show vm1");
    for wanted in ["limits.memory: 1024MiB", "boot.autostart: \"false\""] {
        assert!(vm.contains(wanted), "{wanted}: {vm}");
    }
    let kind = scenario.root(port, "incus list vm1 -c t -f csv");
    assert_eq!(kind.trim(), "VIRTUAL-MACHINE");
    lan_address
}

/// An app of the admin's own, added the way the compose unit's header
/// says, runs from the image the ISO carried and answers from the host.
/// The shipped Nextcloud's compose file passes `docker compose config`.
pub fn compose_app_from_outside(scenario: &Scenario, port: u16, http: u16) {
    let secrets = scenario.root(
        port,
        "stat -c '%a %U' /etc/hearth/apps/nextcloud/db-password",
    );
    assert_eq!(secrets.trim(), "600 root");
    scenario.root(
        port,
        "cd /usr/share/hearth/apps/nextcloud && docker compose config --quiet",
    );
    scenario.root(
        port,
        "mkdir -p /etc/hearth/compose/hello /tank/apps/hello \
         && echo 'hello from a compose app' > /tank/apps/hello/index.html \
         && printf 'services:\\n  web:\\n    image: hearth/debian:13\\n    command: busybox httpd -f -p 80 -h /srv\\n    ports: [\"8081:80\"]\\n    volumes: [\"/tank/apps/hello:/srv:ro\"]\\n' \
            > /etc/hearth/compose/hello/compose.yaml \
         && systemctl enable --now hearth-compose@hello.service",
    );
    // `up --detach` returns once the container is started, which may be
    // before its server answers (docker-proxy takes connections earlier).
    let local = scenario.root(
        port,
        "timeout 120 sh -c 'until busybox wget -q -O /dev/null http://127.0.0.1:8081/index.html; do sleep 2; done' \
         && echo listening \
         || { docker ps -a; docker logs hello-web-1; ss -ltn; } 2>&1",
    );
    assert_eq!(local.trim(), "listening", "the app never answered: {local}");
    let (status, body) = probe::http_get(http, "/index.html", &[]).expect("the app answers");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("hello from a compose app"), "{body}");
    let down = scenario.root(
        port,
        "systemctl stop hearth-compose@hello.service && docker ps -q | wc -l",
    );
    assert_eq!(down.trim(), "0", "stopping the unit takes the app down");
}

/// The replication job's unit copies rpool/home to tank; its timer is on.
pub fn replication(scenario: &Scenario, port: u16) {
    let timer = scenario.root(port, "systemctl is-enabled hearth-syncoid-0.timer");
    assert_eq!(timer.trim(), "enabled");
    scenario.root(
        port,
        "echo kept > /home/admin/replicated.txt && systemctl start hearth-syncoid-0.service",
    );
    let copy = scenario.root(
        port,
        "zfs list -H -o name tank/backups/rpool-home && cat /tank/backups/rpool-home/admin/replicated.txt",
    );
    assert!(copy.contains("tank/backups/rpool-home"), "{copy}");
    assert!(copy.contains("kept"), "{copy}");
}
