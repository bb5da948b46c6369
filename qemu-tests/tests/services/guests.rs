//! Guests and apps: Incus and Docker run what the ISO carried, offline.

use hearth_schema::profile::{HypervisorKind, Profile};
use qemu_tests::probe;

use super::super::Scenario;
use super::Forwards;

/// Incus keeps its guests on the profile's dataset, bridged onto the LAN;
/// every container of the profile runs from the ISO's image, gets an
/// address by DHCP and runs a command; every VM is defined as the profile
/// says. Returns the first container's LAN address.
pub fn incus_guests(scenario: &Scenario, port: u16, profile: &Profile) -> Option<String> {
    let hypervisor = profile.services.hypervisor.as_ref()?;
    if hypervisor.kind != HypervisorKind::Incus {
        return None;
    }
    let pool = scenario.root(port, "incus storage show default");
    let source = format!("source: {}", hypervisor.dataset);
    assert!(
        pool.contains("driver: zfs") && pool.contains(&source),
        "{pool}"
    );
    if let Some(bridge) = &profile.network.bridge {
        let nic = scenario.root(port, "incus profile device get default eth0 parent");
        assert_eq!(nic.trim(), bridge.as_str(), "guests join the host's bridge");
    }
    let mut first = None;
    for guest in &hypervisor.containers {
        let address = container(scenario, port, &guest.name);
        first.get_or_insert(address);
    }
    for guest in &hypervisor.vms {
        let mib = guest.memory.0 >> 20;
        let vm = scenario.root(port, &format!("incus config show {}", guest.name));
        let autostart = format!("boot.autostart: \"{}\"", guest.autostart);
        for wanted in [format!("limits.memory: {mib}MiB"), autostart] {
            assert!(vm.contains(&wanted), "{wanted}: {vm}");
        }
        let kind = scenario.root(port, &format!("incus list {} -c t -f csv", guest.name));
        assert_eq!(kind.trim(), "VIRTUAL-MACHINE");
        vm_runs(scenario, port, &guest.name, mib);
    }
    first
}

/// The VM starts and runs a kernel that writes to its console: the profile
/// made it with an empty disk, so the test hands it the server's own
/// kernel through QEMU (`raw.qemu`, Secure Boot off for it) and reads
/// Linux's first lines from the VM's console log. Under TCG the test's CPU
/// offers SVM, so the server has /dev/kvm, and the harness gives it the
/// memory for its VMs (`profiles::machine_memory`): a VM that cannot start
/// fails the check, never skips it.
fn vm_runs(scenario: &Scenario, port: u16, name: &str, mib: u64) {
    let room = scenario.root(
        port,
        "test -c /dev/kvm && awk '/MemAvailable/ {print int($2/1024)}' /proc/meminfo || echo 0",
    );
    let available: u64 = room.trim().parse().unwrap_or(0);
    eprintln!("VM {name}: {mib} MiB wanted, {available} MiB available with /dev/kvm");
    let log = scenario.root(
        port,
        &format!(
            "kernel=/boot/vmlinuz-$(uname -r) \
             && incus config set {name} security.secureboot=false \
             && incus config set {name} raw.qemu=\"-kernel $kernel -append 'console=ttyS0 panic=-1'\" \
             && incus start {name} \
             && timeout 300 sh -c 'until incus console {name} --show-log 2>/dev/null | grep -q \"Linux version\"; do sleep 10; done'; \
             incus console {name} --show-log 2>&1 | grep -a -m1 'Linux version' \
             || incus console {name} --show-log 2>&1 | tail -n 20; incus stop --force {name}; \
             incus config unset {name} raw.qemu; incus config unset {name} security.secureboot"
        ),
    );
    eprintln!("VM {name}'s console:\n{log}");
    assert!(
        log.contains("Linux version"),
        "VM {name} ran no kernel: {log}"
    );
}

/// A container runs, has an IPv4 address on eth0 and runs a command.
fn container(scenario: &Scenario, port: u16, name: &str) -> String {
    let state = scenario.root(port, &format!("incus list {name} -c s -f csv"));
    assert_eq!(
        state.trim(),
        "RUNNING",
        "the profile's container {name} runs"
    );
    let address = scenario.root(
        port,
        &format!("timeout 120 sh -c 'until incus list {name} -c 4 -f csv | grep -q eth0; do sleep 3; done'; incus list {name} -c 4 -f csv"),
    );
    assert!(
        address.contains("(eth0)"),
        "{name} has an address on the bridge: {address}"
    );
    let release = scenario.root(
        port,
        &format!("incus exec {name} -- cat /etc/debian_version"),
    );
    assert!(!release.trim().is_empty(), "{release}");
    address
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Docker keeps its layers as datasets. An app of the admin's own, added
/// the way the compose unit's header says, runs from the image the ISO
/// carried and answers from the host on `forwards`' port 8081; stopping
/// its unit takes it down. The shipped apps' compose files pass
/// `docker compose config`.
pub fn compose_app_from_outside(
    scenario: &Scenario,
    port: u16,
    profile: &Profile,
    forwards: &Forwards,
) {
    let Some(docker) = &profile.services.docker else {
        return;
    };
    let driver = scenario.root(port, "docker info --format '{{.Driver}}'");
    assert_eq!(driver.trim(), "zfs", "Docker keeps its layers as datasets");
    for app in &docker.apps {
        let dir = app.compose_file.parent().expect("a folder").display();
        scenario.root(
            port,
            &format!("cd '{dir}' && docker compose config --quiet"),
        );
        let secrets = scenario.root(
            port,
            &format!(
                "stat -c '%a %U' /etc/hearth/apps/{}/* 2>/dev/null || true",
                app.name
            ),
        );
        assert!(secrets.lines().all(|l| l == "600 root"), "{secrets}");
    }
    scenario.root(
        port,
        "mkdir -p /etc/hearth/compose/hello /srv/hello \
         && echo 'hello from a compose app' > /srv/hello/index.html \
         && printf 'services:\\n  web:\\n    image: hearth/debian:13\\n    command: busybox httpd -f -p 80 -h /srv\\n    ports: [\"8081:80\"]\\n    volumes: [\"/srv/hello:/srv:ro\"]\\n' \
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
    let (status, body) =
        probe::http_get(forwards.tcp(8081), "/index.html", &[]).expect("the app answers");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("hello from a compose app"), "{body}");
    let down = scenario.root(
        port,
        "systemctl disable --now hearth-compose@hello.service && docker ps -q | wc -l",
    );
    assert_eq!(down.trim(), "0", "stopping the unit takes the app down");
}
