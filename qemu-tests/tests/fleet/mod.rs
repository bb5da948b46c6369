//! Fleet installs: one ISO without an answer, its kernel command line
//! pointing at `hearth answer-server` on the host. Each machine POSTs its
//! facts and gets its own answer; a server that refuses, or is not there,
//! leaves every disk as it was; the same live system boots over the network
//! through iPXE and installs.

use std::path::{Path, PathBuf};
use std::time::Instant;

use qemu_tests::answer_server::AnswerServer;
use qemu_tests::machine::{Builder, Disk, Firmware, Machine, Medium};
use qemu_tests::ssh;

use super::{install_done, install_outcome, sha256, Scenario, ADMIN_HASH};

const MAC_A: &str = "52:54:00:fa:00:01";
const MAC_B: &str = "52:54:00:fb:00:02";
/// As the kernel and dracut spell it: address, gateway, netmask, NIC, no DHCP.
const STATIC_IP: &str = "ip=10.0.2.50::10.0.2.2:255.255.255.0::enp0s3:none";

/// server.toml: a by MAC, b by disk serial, c by DMI serial with a
/// template that asks for a disk no machine has.
const RULES: &str = r#"token-file = "token"

[[machine]]
name = "fleet-a"
template = "minimal.toml"
match = { mac = "52:54:00:fa:*" }
values = { hostname = "fleet-a", pin = true }

[[machine]]
name = "fleet-b"
template = "minimal.toml"
match = { disk-serial = "fleet-b-*" }
values = { hostname = "fleet-b", pin = false }

[[machine]]
name = "fleet-c"
template = "pinned-disk.toml"
match = { dmi-serial = "FLEET-C" }
values = { hostname = "fleet-c", disk = "/dev/disk/by-id/virtio-not-there" }
"#;

/// The answer server's folder in the scenario's, with rules and templates
/// (which name the server's own certificate for the reports).
fn answer_server(scenario: &Scenario, netboot: Option<&Path>) -> AnswerServer {
    let dir = scenario.dir.join("answer-server");
    std::fs::create_dir_all(dir.join("templates")).expect("server dir");
    std::fs::write(dir.join("server.toml"), RULES).expect("rules");
    let profiles = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../profiles");
    let server = AnswerServer::start(&dir, &profiles, netboot).expect("answer-server starts");
    let public = &scenario.public;
    let common = format!(
        "hostname = {{{{ hostname }}}}\nroot-ssh-keys = [\"{public}\"]\nafter-install = \"poweroff\"\n\n[users.admin]\npassword = \"{ADMIN_HASH}\"\nssh-keys = [\"{public}\"]\n\n"
    );
    let minimal = format!(
        "{common}[network]\npin-names = {{{{ pin }}}}\n\n{}",
        server.report_table()
    );
    std::fs::write(dir.join("templates/minimal.toml"), minimal).expect("template");
    let pinned = format!("{common}[pools.rpool]\ndisks = [{{{{ disk }}}}]\n");
    std::fs::write(dir.join("templates/pinned-disk.toml"), pinned).expect("template");
    server
}

/// The scenario's ISO with the server's kernel arguments (and `extra`) in its menus.
fn fleet_iso(scenario: &Scenario, server: &AnswerServer, name: &str, extra: &[&str]) -> PathBuf {
    let iso = scenario.dir.join(format!("{name}.iso"));
    let mut args = server.kernel_args();
    args.push("hearth.answer-timeout=60".into());
    args.extend(extra.iter().map(|a| a.to_string()));
    image_builder::inject::kernel_args(&scenario.iso, &args, &iso).expect("kernel-args");
    iso
}

fn live_machine(
    scenario: &Scenario,
    name: &str,
    iso: &Path,
    mac: &str,
    serial: Option<&str>,
    disk: &Disk,
) -> Machine {
    let mut builder = Builder::new(name, &scenario.dir)
        .firmware(Firmware::Uefi)
        .memory(3072)
        .mac(mac)
        .iso(iso, Medium::Cdrom)
        .disk(disk);
    if let Some(serial) = serial {
        builder = builder.serial(serial);
    }
    builder.start(scenario.accel).expect("qemu")
}

/// Boots the installed system with the NIC it was installed with; returns
/// the machine and its ssh port once root logs in.
fn boot_installed(
    scenario: &Scenario,
    name: &str,
    firmware: Firmware,
    mac: &str,
    disk: &Disk,
) -> (Machine, u16) {
    let port = ssh::free_port().expect("port");
    let mut machine = Builder::new(name, &scenario.dir)
        .firmware(firmware)
        .mac(mac)
        .ssh_forward(port)
        .disk(disk)
        .start(scenario.accel)
        .expect("qemu");
    machine
        .wait_for_boot("login:", machine.scaled(60))
        .expect("the installed system boots to a login prompt");
    ssh::wait(&scenario.key, port, "root", machine.scaled(20)).expect("ssh as root");
    (machine, port)
}

fn install_one(scenario: &mut Scenario, name: &str, iso: &Path, mac: &str, disk: &Disk) {
    let started = Instant::now();
    let mut machine = live_machine(scenario, name, iso, mac, None, disk);
    let outcome = install_outcome(&mut machine, &scenario.dir);
    assert!(
        outcome.starts_with("HEARTH-INSTALL-DONE"),
        "{name}: {outcome}; see {}",
        machine.log.display()
    );
    machine
        .wait_for_console("HEARTH-REPORT-SENT", machine.scaled(60))
        .expect("the report is sent");
    machine
        .wait_for_exit(machine.scaled(30))
        .expect("powered off after the install");
    machine.kill();
    scenario.phase(&format!("install {name}"), started);
}

#[test]
fn fleet() {
    let Some(mut scenario) = Scenario::new("fleet", 18) else {
        return;
    };
    let server = answer_server(&scenario, None);
    let iso = fleet_iso(&scenario, &server, "fleet", &[]);

    // Two machines, one ISO: each gets its own host name and disks.
    let a = scenario.disk("fleet-a-1", 8);
    let b = scenario.disk("fleet-b-1", 8);
    install_one(&mut scenario, "fleet-a", &iso, MAC_A, &a);
    install_one(&mut scenario, "fleet-b", &iso, MAC_B, &b);
    let log = server.log();
    for name in ["fleet-a", "fleet-b"] {
        assert!(log.contains(&format!("machine={name} served")), "{log}");
        assert!(
            log.contains(&format!("machine={name} report-done")),
            "{log}"
        );
    }
    let reports = server.reports();
    assert_eq!(reports.len(), 2, "{reports:?}");
    for (file, text) in &reports {
        assert!(
            text.contains("\"outcome\": \"done\"") && text.contains("\"pools-created\""),
            "{file}: {text}"
        );
        assert!(
            !text.contains(qemu_tests::answer_server::TOKEN) && !text.contains("$6$"),
            "no secret in {file}"
        );
    }
    let started = Instant::now();
    let (mut first, port) = boot_installed(&scenario, "fleet-a-boot", Firmware::Uefi, MAC_A, &a);
    assert_eq!(scenario.root(port, "hostname").trim(), "fleet-a");
    let pinned = scenario.root(port, "ip -o link show nic0 | grep -c 52:54:00:fa:00:01");
    assert_eq!(pinned.trim(), "1", "pin-names: the NIC is nic0");
    first.kill();
    let (mut second, port) = boot_installed(&scenario, "fleet-b-boot", Firmware::Uefi, MAC_B, &b);
    assert_eq!(scenario.root(port, "hostname").trim(), "fleet-b");
    second.kill();
    scenario.phase("both boot", started);

    let c = Disk::raw(&scenario.dir, "fleet-c-1", 4096).expect("raw disk");
    refused(&mut scenario, &server, &c);
    drop(server);
    server_gone(&mut scenario, &iso, &c);
    scenario.report();
}

/// An answer the server refuses: the machine says why, no disk is touched.
/// This machine's live system has a static address from `ip=`.
fn refused(scenario: &mut Scenario, server: &AnswerServer, c: &Disk) {
    let started = Instant::now();
    let before = sha256(&c.path);
    let iso = fleet_iso(scenario, server, "static", &[STATIC_IP]);
    let mut refused = live_machine(
        scenario,
        "fleet-c",
        &iso,
        "52:54:00:fc:00:03",
        Some("FLEET-C"),
        c,
    );
    refused
        .wait_for_console("HEARTH-NETWORK enp0s3 10.0.2.50/24", refused.scaled(120))
        .expect("the static address from ip=, on the console");
    let outcome = install_outcome(&mut refused, &scenario.dir);
    assert!(
        outcome.contains("finding the answer")
            && outcome.contains("refused")
            && outcome.contains("virtio-not-there"),
        "{outcome}"
    );
    refused.kill();
    assert_eq!(sha256(&c.path), before, "a refused answer touches no disk");
    assert!(
        server.log().contains("machine=fleet-c refused"),
        "{}",
        server.log()
    );
    scenario.phase("refused", started);
}

/// The server gone: the machine retries, says so, falls back to asking.
fn server_gone(scenario: &mut Scenario, iso: &Path, c: &Disk) {
    let started = Instant::now();
    let before = sha256(&c.path);
    let mut alone = live_machine(scenario, "fleet-down", iso, MAC_A, None, c);
    let wait = alone.scaled(120);
    alone
        .wait_for_console("HEARTH-ANSWER-RETRY", wait)
        .expect("a retry on the console");
    alone
        .wait_for_console("HEARTH-ANSWER-FALLBACK", wait)
        .expect("the fallback on the console");
    alone
        .wait_for_console("No answer file was found", wait)
        .expect("the interactive installer asks");
    alone.kill();
    assert_eq!(sha256(&c.path), before, "no answer, no disk touched");
    scenario.phase("server down", started);
}

/// iPXE from QEMU's TFTP chains the build's script with the folder's URL
/// and the answer server's arguments; the medium comes over http.
#[test]
fn netboot() {
    let Some(mut scenario) = Scenario::new("netboot", 9) else {
        return;
    };
    let folder = qemu_tests::iso::netboot("minimal").expect("the netboot folder builds");
    let server = answer_server(&scenario, Some(&folder));
    let tftp = scenario.dir.join("tftp");
    std::fs::create_dir_all(&tftp).expect("tftp");
    let url = format!(
        "http://10.0.2.2:{}/",
        server.netboot_port.expect("netboot port")
    );
    let chain = format!(
        "#!ipxe\nset hearth-url {url}\nset hearth-args {}\nchain ${{hearth-url}}{}\n",
        server.kernel_args().join(" "),
        image_builder::netboot::IPXE
    );
    std::fs::write(tftp.join("boot.ipxe"), chain).expect("chain script");
    let disk = scenario.disk("fleet-a-net", 8);
    let started = Instant::now();
    let mut machine = Builder::new("netboot", &scenario.dir)
        .memory(3072)
        .mac(MAC_A)
        .netboot(&tftp, "boot.ipxe")
        .disk(&disk)
        .start(scenario.accel)
        .expect("qemu");
    machine
        .wait_for_console(
            "Hearth: the live medium is in RAM and checked",
            machine.scaled(120),
        )
        .expect("the initramfs fetched and checked the medium");
    install_done(machine, &scenario.dir);
    scenario.phase("netboot install", started);
    let (mut installed, port) =
        boot_installed(&scenario, "netboot-installed", Firmware::Bios, MAC_A, &disk);
    assert_eq!(scenario.root(port, "hostname").trim(), "fleet-a");
    assert_eq!(
        scenario.root(port, "zpool status -x").trim(),
        "all pools are healthy"
    );
    installed.kill();
    assert!(
        server.log().contains("machine=fleet-a served"),
        "{}",
        server.log()
    );
    scenario.report();
}
