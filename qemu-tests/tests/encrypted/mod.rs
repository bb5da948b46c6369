//! Encrypted pools, from outside: the root pool's passphrase comes from a
//! file beside the answer; first boot stops at the initramfs prompt on the
//! serial console, a wrong passphrase is refused and asked again; the next
//! boot is unlocked over SSH into the initramfs (key logins only); the
//! data pool's generated key loads at boot with no prompt; no file or log
//! holds the passphrase; a reinstall onto new root disks keeps the data
//! pool and loads its key from the recovery kit; replace-disk mends the
//! encrypted root mirror.

use std::io::{Read, Write};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use qemu_tests::machine::{Builder, Disk, Firmware, Machine};
use qemu_tests::ssh;

use super::{Scenario, FIRSTBOOT_DONE};

const PASSPHRASE: &str = "correct horse 2026 staple";
const WRONG: &str = "wrong horse 2026 staple";
const KIT_PASSPHRASE: &str = "a kit passphrase 2026";
const PROMPT: &str = "Encrypted ZFS passphrase for rpool:";
const DATA: &str = "head -c 1048576 /dev/urandom > /srv/data/photo.raw && echo 'kept across reinstalls' > /srv/data/notes.txt && sync";
const HASHES: &str = "sha256sum /srv/data/photo.raw /srv/data/notes.txt";

#[test]
fn encrypted() {
    let Some(mut scenario) = Scenario::with_iso("encrypted", 35, "encrypted") else {
        return;
    };
    let pass_file = scenario.dir.join("rpool.pass");
    std::fs::write(&pass_file, format!("{PASSPHRASE}\n")).expect("passphrase file");
    scenario.beside = vec![pass_file];
    let roots = [scenario.disk("root-1", 8), scenario.disk("root-2", 8)];
    let tank = [scenario.disk("tank-1", 8), scenario.disk("tank-2", 8)];
    let all: Vec<&Disk> = roots.iter().chain(tank.iter()).collect();
    let answer = "\n[pools.rpool]\npassphrase-file = \"rpool.pass\"\n";
    scenario.install(
        "encrypted",
        Firmware::Uefi,
        &all,
        answer,
        "HEARTH-INSTALL-DONE",
    );

    let (mut server, port, _) = boot_locked(&mut scenario, "console-unlock", Firmware::Uefi, &all);
    unlock_on_the_console(&mut server);
    wait_for_ssh(&mut scenario, &mut server, port, "console-unlock");
    assert_eq!(scenario.root(port, FIRSTBOOT_DONE).trim(), "active");
    everything_is_encrypted(&scenario, port);
    scenario.root(port, DATA);
    let hashes = scenario.root(port, HASHES);
    the_passphrase_is_nowhere(&scenario, port);
    let (kit, made) = scenario.recovery_kit(port, KIT_PASSPHRASE);
    assert!(
        made.contains("ZFS encryption keys"),
        "the kit holds tank's key: {made}"
    );
    server.kill();

    let (mut server, port, unlock) = boot_locked(&mut scenario, "ssh-unlock", Firmware::Bios, &all);
    unlock_over_ssh(&scenario, &mut server, unlock);
    wait_for_ssh(&mut scenario, &mut server, port, "ssh-unlock");
    assert_eq!(scenario.root(port, HASHES), hashes);
    server.kill();

    let new_roots = reinstall_keeps_tank(&mut scenario, &tank, kit, &hashes);
    replace_a_root_disk(&mut scenario, &new_roots[1], &tank);
    scenario.report();
}

/// The root disks die: new blank ones, tank kept, its key from the kit.
fn reinstall_keeps_tank(
    scenario: &mut Scenario,
    tank: &[Disk; 2],
    kit: std::path::PathBuf,
    hashes: &str,
) -> [Disk; 2] {
    let new_roots = [
        scenario.disk("new-root-1", 8),
        scenario.disk("new-root-2", 8),
    ];
    let all: Vec<&Disk> = new_roots.iter().chain(tank.iter()).collect();
    scenario.beside = vec![kit];
    let answer =
        format!("recovery-kit = \"hearth.kit\"\nrecovery-kit-passphrase = \"{KIT_PASSPHRASE}\"\n");
    scenario.top_extra = answer;
    let keep =
        format!("\n[pools.rpool]\npassphrase = \"{PASSPHRASE}\"\n\n[pools.tank]\nkeep = true\n");
    scenario.install(
        "encrypted",
        Firmware::Uefi,
        &all,
        &keep,
        "HEARTH-INSTALL-DONE",
    );
    let (mut server, port, _) = boot_locked(scenario, "after-reinstall", Firmware::Uefi, &all);
    unlock_on_the_console(&mut server);
    wait_for_ssh(scenario, &mut server, port, "after-reinstall");
    let log = scenario.root(port, "cat /var/log/hearth/install.log");
    assert!(
        log.contains("zfs load-key -r tank"),
        "the kit's key loaded tank:\n{log}"
    );
    assert_eq!(scenario.root(port, HASHES), hashes, "tank's files survived");
    let status = scenario.root(port, "zfs get -H -o value keystatus tank");
    assert_eq!(status.trim(), "available");
    server.kill();

    new_roots
}

/// A root disk dies: the other unlocks alone, and replace-disk resilvers
/// the encrypted mirror onto a blank disk.
fn replace_a_root_disk(scenario: &mut Scenario, survivor: &Disk, tank: &[Disk; 2]) {
    let spare = scenario.disk("spare-root", 8);
    let degraded: Vec<&Disk> = [survivor, &spare].into_iter().chain(tank.iter()).collect();
    let (mut server, port, _) = boot_locked(scenario, "degraded", Firmware::Uefi, &degraded);
    unlock_on_the_console(&mut server);
    wait_for_ssh(scenario, &mut server, port, "degraded");
    let started = Instant::now();
    let replaced = scenario.root(
        port,
        "hearth replace-disk /dev/disk/by-id/virtio-new-root-1-part3 /dev/disk/by-id/virtio-spare-root",
    );
    assert!(replaced.contains("resilvered"), "{replaced}");
    let healthy = scenario.root(port, "zpool status -x");
    assert_eq!(healthy.trim(), "all pools are healthy");
    scenario.phase("replace-disk", started);
    server.kill();
}

/// Boots the installed system up to the initramfs's passphrase prompt;
/// returns the machine, its SSH port and the initramfs's SSH port.
fn boot_locked(
    scenario: &mut Scenario,
    name: &str,
    firmware: Firmware,
    disks: &[&Disk],
) -> (Machine, u16, u16) {
    let started = Instant::now();
    let port = ssh::free_port().expect("port");
    let unlock = ssh::free_port().expect("port");
    let mut builder = Builder::new(name, &scenario.dir)
        .firmware(firmware)
        .ssh_forward(port)
        .forward(unlock, 2222);
    for disk in disks {
        builder = builder.disk(disk);
    }
    let mut server = builder.start(scenario.accel).expect("qemu");
    server
        .wait_for_console(PROMPT, server.scaled(60))
        .expect("the initramfs asks for the root pool's passphrase on the serial console");
    scenario.phase(&format!("{name} prompt"), started);
    (server, port, unlock)
}

/// A wrong passphrase is refused and asked again; the right one boots.
fn unlock_on_the_console(server: &mut Machine) {
    server.send(&format!("{WRONG}\n")).expect("type");
    server
        .wait_for_console("Wrong passphrase; try again.", server.scaled(30))
        .expect("a wrong passphrase is refused");
    server
        .wait_for_console(PROMPT, server.scaled(10))
        .expect("and asked again");
    server.send(&format!("{PASSPHRASE}\n")).expect("type");
    server
        .wait_for_console("rpool unlocked; booting.", server.scaled(30))
        .expect("the right one is taken");
}

fn wait_for_ssh(scenario: &mut Scenario, server: &mut Machine, port: u16, name: &str) {
    let started = Instant::now();
    server
        .wait_for_console("login:", server.scaled(60))
        .expect("the system boots once unlocked");
    ssh::wait(&scenario.key, port, "root", server.scaled(20)).expect("ssh as root");
    let kept = scenario.dir.join("install.log");
    if !kept.exists() {
        let log = scenario.root(port, "cat /var/log/hearth/install.log");
        std::fs::write(kept, log).expect("keep install.log");
    }
    scenario.phase(name, started);
}

/// dropbear in the initramfs takes the answer's key and refuses
/// passwords; `zfsunlock` takes the passphrase and the boot goes on.
fn unlock_over_ssh(scenario: &Scenario, server: &mut Machine, unlock: u16) {
    let deadline = Instant::now() + server.scaled(30);
    let refused = loop {
        let password_only = [
            "-o",
            "PubkeyAuthentication=no",
            "-o",
            "PreferredAuthentications=password,keyboard-interactive",
        ];
        let out = ssh::command_with(&scenario.key, unlock, &password_only, "root", "true")
            .output()
            .expect("ssh");
        let text = String::from_utf8_lossy(&out.stderr).to_string();
        if text.contains("Permission denied") || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_secs(2));
    };
    assert!(
        refused.contains("Permission denied (publickey)"),
        "the initramfs offers key logins only: {refused}"
    );
    let mut child = ssh::command_with(&scenario.key, unlock, &["-tt"], "root", "zfsunlock")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("ssh");
    let seen = collect(&mut child);
    wait_for(
        &seen,
        "password for rpool",
        Duration::from_secs(120),
        "zfsunlock asks",
    );
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(format!("{PASSPHRASE}\r").as_bytes())
        .expect("type over ssh");
    wait_for(
        &seen,
        "accepted",
        Duration::from_secs(120),
        "zfsunlock takes it",
    );
    drop(stdin);
    let _ = child.kill();
    let _ = child.wait();
}

/// What a child prints, gathered as it comes.
fn collect(child: &mut Child) -> Arc<Mutex<String>> {
    let seen = Arc::new(Mutex::new(String::new()));
    let mut stdout = child.stdout.take().expect("stdout");
    let into = Arc::clone(&seen);
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            if let Ok(mut text) = into.lock() {
                text.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        }
    });
    seen
}

fn wait_for(seen: &Arc<Mutex<String>>, text: &str, timeout: Duration, what: &str) {
    let started = Instant::now();
    loop {
        let now = seen.lock().map(|s| s.clone()).unwrap_or_default();
        if now.contains(text) {
            return;
        }
        assert!(
            started.elapsed() < timeout,
            "{what}: no `{text}` in:\n{now}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Every dataset of both pools is encrypted, keyed and mounted; tank's key
/// came from its file with no prompt.
fn everything_is_encrypted(scenario: &Scenario, port: u16) {
    let props = scenario.root(
        port,
        "zfs get -H -o name,property,value -t filesystem encryption,keystatus,encryptionroot rpool tank -r",
    );
    for line in props.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let [name, property, value] = f.as_slice() else {
            panic!("zfs get: {line}")
        };
        let pool = name.split('/').next().unwrap_or_default();
        match *property {
            "encryption" => assert_eq!(*value, "aes-256-gcm", "{line}"),
            "keystatus" => assert_eq!(*value, "available", "{line}"),
            _ => assert_eq!(*value, pool, "encryption root at the pool's root: {line}"),
        }
    }
    let unit = scenario.root(port, "systemctl is-active hearth-load-key@tank.service");
    assert_eq!(unit.trim(), "active");
    let key = scenario.root(port, "stat -c '%a %U %s' /etc/zfs/keys/tank.key");
    assert_eq!(key.trim(), "400 root 32");
    let mounted = scenario.root(port, "findmnt -n -o SOURCE /srv/data");
    assert_eq!(mounted.trim(), "tank/data");
    let status = scenario.root(port, "hearth status || true");
    assert!(
        status.contains("rpool: encrypted, aes-256-gcm, passphrase, key available"),
        "{status}"
    );
}

/// The typed passphrase is in no file of the installed system: /etc,
/// /var/log, /root and every ESP.
fn the_passphrase_is_nowhere(scenario: &Scenario, port: u16) {
    let search = format!(
        "found=$(grep -rlaF -- '{PASSPHRASE}' /etc /var/log /root || true); \
         for uuid in $(zfs get -H -o value org.hearth:esps rpool/ROOT | tr , ' '); do \
           mkdir -p /mnt/esp && mount -o ro UUID=$uuid /mnt/esp && \
           found=\"$found $(grep -rlaF -- '{PASSPHRASE}' /mnt/esp || true)\"; umount /mnt/esp; \
         done; echo \"found:$found\""
    );
    let out = scenario.root(port, &search);
    assert_eq!(
        out.trim().trim_end(),
        "found:",
        "the passphrase is in: {out}"
    );
    let answer = scenario.root(port, "cat /etc/hearth/answer.toml");
    assert!(
        answer.contains("passphrase-file"),
        "the answer is kept, its secret not"
    );
}
