//! Each service's generated config, for every shipped profile that enables
//! the service, passes the service's own validator.

use std::path::PathBuf;
use std::process::Command;

use hearth_installer::load;
use hearth_installer::services::{firewall, samba, ssh, wireguard};

fn shipped() -> Vec<(String, hearth_installer::profile::Profile)> {
    let mut out = Vec::new();
    let mut paths: Vec<PathBuf> = std::fs::read_dir("../profiles")
        .expect("profiles folder")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    for path in paths {
        let loaded = load::profile(&path).expect("a shipped profile loads");
        out.push((path.display().to_string(), loaded.value));
    }
    out
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hearth-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch");
    dir
}

fn tool(name: &str, package: &str) -> bool {
    let found = hearth_installer::runner::on_path(name);
    if !found {
        eprintln!("SKIP: {name} is not installed (package {package}; .ci/run installs it)");
    }
    found
}

#[test]
fn samba_configs_pass_testparm() {
    if !tool("testparm", "samba-common-bin") {
        return;
    }
    let dir = scratch("testparm");
    let mut checked = 0;
    for (path, profile) in shipped() {
        let Some(config) = &profile.services.samba else {
            continue;
        };
        let file = dir.join(format!("{}.conf", profile.name));
        std::fs::write(&file, samba::smb_conf(config, &profile.system.hostname)).expect("write");
        let out = Command::new("testparm")
            .args(["-s", "--suppress-prompt"])
            .arg(&file)
            .output()
            .expect("testparm runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{path}: testparm failed:\n{stderr}");
        for bad in ["Unknown parameter", "Ignoring unknown", "WARNING", "ERROR"] {
            assert!(!stderr.contains(bad), "{path}: testparm says:\n{stderr}");
        }
        // testparm prints the shares it understood.
        let parsed = String::from_utf8_lossy(&out.stdout);
        for share in &config.shares {
            assert!(
                parsed.contains(&format!("[{}]", share.name)),
                "{path}: share {} missing from testparm's output",
                share.name
            );
        }
        checked += 1;
    }
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        checked >= 2,
        "homelab and nas enable Samba; checked {checked}"
    );
}

#[test]
fn firewall_rulesets_pass_nft_check() {
    if !tool("nft", "nftables") {
        return;
    }
    // `nft -c` parses and checks against the kernel without committing; a
    // network namespace of its own keeps even a mistake away from the host.
    let isolated = Command::new("unshare")
        .args(["-n", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !isolated {
        eprintln!("SKIP: no network namespace for nft -c (needs root; CI runs as root)");
        return;
    }
    let dir = scratch("nft");
    let mut checked = 0;
    // Overlapping LAN networks, as the fuzzer once found, load too.
    let mut overlapping = shipped();
    if let Some((path, mut profile)) = overlapping.first().cloned() {
        profile.services.firewall.lan = ["0.0.0.0/0", "10.0.0.0/8", "fd00::/8", "fd00::/64"]
            .map(String::from)
            .to_vec();
        overlapping.push((format!("{path} (overlapping LAN)"), profile));
    }
    for (path, profile) in overlapping {
        if !profile.services.firewall.enabled {
            continue;
        }
        let file = dir.join(format!("{}.nft", profile.name));
        let ruleset = firewall::nftables_conf(&profile);
        std::fs::write(&file, &ruleset).expect("write");
        let out = Command::new("unshare")
            .args(["-n", "nft", "-c", "-f"])
            .arg(&file)
            .output()
            .expect("nft runs");
        assert!(
            out.status.success(),
            "{path}: nft -c failed:\n{}\n{ruleset}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            ruleset.contains("policy drop"),
            "{path}: inbound is denied by default"
        );
        checked += 1;
    }
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        checked >= 6,
        "every shipped profile has a firewall; checked {checked}"
    );
}

#[test]
fn sshd_configs_pass_sshd_t() {
    if !tool("/usr/sbin/sshd", "openssh-server") {
        return;
    }
    let dir = scratch("sshd");
    let key = dir.join("host_key");
    let made = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .expect("ssh-keygen");
    assert!(made.success());
    std::fs::create_dir_all("/run/sshd").expect("privilege separation folder");
    for (path, profile) in shipped() {
        let file = dir.join(format!("{}.conf", profile.name));
        std::fs::write(&file, ssh::sshd_conf(&profile)).expect("write");
        let out = Command::new("/usr/sbin/sshd")
            .arg("-t")
            .arg("-h")
            .arg(&key)
            .arg("-f")
            .arg(&file)
            .output()
            .expect("sshd runs");
        assert!(
            out.status.success(),
            "{path}: sshd -t: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn wireguard_configs_pass_wg_quick_strip() {
    if !tool("wg-quick", "wireguard-tools") {
        return;
    }
    let dir = scratch("wg");
    let mut checked = 0;
    for (path, profile) in shipped() {
        let Some(config) = &profile.services.wireguard else {
            continue;
        };
        let server = dir.join("wg0.conf");
        std::fs::write(&server, completed(config)).expect("write");
        let stripped = strip(&server);
        assert!(
            stripped.contains(&format!("ListenPort = {}", config.listen_port)),
            "{path}: {stripped}"
        );
        let private = key(None);
        let server_public = key(Some(&key(None)));
        let client = dir.join("phone.conf");
        let endpoint = wireguard::endpoint(&profile, config);
        let allowed = wireguard::client_allowed_ips(&profile, config);
        std::fs::write(
            &client,
            wireguard::client_conf(&private, "10.8.0.2/32", &server_public, &endpoint, &allowed),
        )
        .expect("write");
        let stripped = strip(&client);
        assert!(
            stripped.contains(&format!("PrivateKey = {private}")),
            "{path}"
        );
        assert!(
            stripped.contains(&format!("Endpoint = {endpoint}")),
            "{path}"
        );
        checked += 1;
    }
    std::fs::remove_dir_all(&dir).ok();
    assert!(checked >= 1, "homelab has WireGuard; checked {checked}");
}

fn strip(file: &std::path::Path) -> String {
    let out = Command::new("wg-quick")
        .arg("strip")
        .arg(file)
        .output()
        .expect("wg-quick runs");
    assert!(
        out.status.success(),
        "{}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// `wg genkey`, or `wg pubkey` of `input`.
fn key(input: Option<&str>) -> String {
    let mut cmd = Command::new("wg");
    cmd.arg(if input.is_some() { "pubkey" } else { "genkey" });
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("wg");
    if let Some(text) = input {
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write");
    }
    let out = child.wait_with_output().expect("wg");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// wg0.conf as first boot completes it, with fresh keys.
fn completed(config: &hearth_installer::profile::WireGuard) -> String {
    let generated: Vec<wireguard::GeneratedPeer> = config
        .peers
        .iter()
        .filter(|p| p.public_key.is_none())
        .map(|p| wireguard::GeneratedPeer {
            name: p.name.clone(),
            address: p.address.clone(),
        })
        .collect();
    let keys: Vec<String> = generated.iter().map(|_| key(Some(&key(None)))).collect();
    wireguard::complete_conf(
        &wireguard::server_conf(config),
        &key(None),
        &generated,
        &keys,
    )
}

fn care_profiles() -> Vec<(String, hearth_installer::profile::Profile)> {
    use hearth_installer::profile::{AutomaticUpdates, EmailAlerts, SmtpTls};
    let mut out = shipped();
    // Every policy and reboot setting, a relay with and without a login.
    let (_, base) = out[0].clone();
    for (i, automatic) in [
        AutomaticUpdates::Security,
        AutomaticUpdates::Stable,
        AutomaticUpdates::Off,
    ]
    .into_iter()
    .enumerate()
    {
        let mut profile = base.clone();
        profile.updates.automatic = automatic;
        profile.updates.reboot = if i == 1 {
            "04:30".into()
        } else {
            "never".into()
        };
        profile.updates.mirror = Some("http://10.0.2.2:8080/debian".into());
        profile.updates.security_mirror = Some("http://10.0.2.2:8080/debian-security".into());
        profile.updates.signed_by = (i == 2).then(|| ARMORED.to_string());
        profile.alerts.email = Some(EmailAlerts {
            to: vec!["admin@example.org".into(), "ops@example.org".into()],
            from: None,
            relay: "smtp.example.org".into(),
            port: 587,
            tls: [SmtpTls::Starttls, SmtpTls::Tls, SmtpTls::Off][i],
            user: (i != 2).then(|| "hearth@example.org".into()),
        });
        profile.alerts.smtp_password = Some("pa ss!word".into());
        out.push((format!("variant {i}"), profile));
    }
    out
}

/// A made-up key block: apt reads it as a key only when fetching.
const ARMORED: &str = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEZQAAABYJKwYBBAHaRw8BAQdAhearthtestkeyhearthtestkeyhearthtest\n=abcd\n-----END PGP PUBLIC KEY BLOCK-----\n";

#[test]
fn apt_configs_pass_apt_config_and_sources_pass_indextargets() {
    use hearth_installer::services::updates;
    if !tool("apt-config", "apt") {
        return;
    }
    let dir = scratch("apt");
    let mut checked = 0;
    for (path, profile) in care_profiles() {
        for (name, text) in [
            ("periodic", updates::periodic(&profile.updates)),
            ("policy", updates::policy(&profile.updates)),
        ] {
            let file = dir.join(name);
            std::fs::write(&file, &text).expect("write");
            let out = Command::new("apt-config")
                .arg("-c")
                .arg(&file)
                .arg("dump")
                .output()
                .expect("apt-config runs");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success() && stderr.is_empty(),
                "{path}: {name}:\n{stderr}\n{text}"
            );
            let dump = String::from_utf8_lossy(&out.stdout);
            assert!(
                dump.contains("Unattended-Upgrade") || dump.contains("APT::Periodic"),
                "{path}: {dump}"
            );
        }
        let parts = dir.join(format!("parts-{checked}"));
        std::fs::create_dir_all(&parts).expect("parts");
        for file in hearth_installer::services::files(&profile) {
            if file.path.extension().is_some_and(|e| e == "sources") {
                let name = file.path.file_name().expect("name");
                std::fs::write(parts.join(name), &file.content).expect("write");
            }
        }
        let out = Command::new("apt-get")
            .arg("indextargets")
            .arg("-o")
            .arg("Dir::Etc::sourcelist=/dev/null")
            .arg("-o")
            .arg(format!("Dir::Etc::sourceparts={}", parts.display()))
            .arg("-o")
            .arg(format!("Dir::State::lists={}", dir.display()))
            // Targets of sources whose Release files are not fetched yet.
            .args(["-o", "APT::Get::IndexTargets::ReleaseInfo=no"])
            .output()
            .expect("apt-get runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && stderr.trim().is_empty(),
            "{path}: sources:\n{stderr}"
        );
        if profile.updates.mirror.is_some() {
            let targets = String::from_utf8_lossy(&out.stdout);
            for suite in ["trixie", "trixie-updates", "trixie-security"] {
                let dists = format!("/dists/{suite}/main/binary-amd64/Packages");
                assert!(
                    targets.contains(&dists),
                    "{path}: {suite} missing:\n{targets}"
                );
            }
        }
        checked += 1;
    }
    std::fs::remove_dir_all(&dir).ok();
    assert!(checked >= 3);
}

#[test]
fn msmtp_configs_pass_msmtp_pretend() {
    use hearth_installer::services::alerts;
    use std::os::unix::fs::PermissionsExt;
    if !tool("msmtp", "msmtp") {
        return;
    }
    let dir = scratch("msmtp");
    let mut checked = 0;
    for (path, profile) in care_profiles() {
        let fqdn = format!("{}.{}", profile.system.hostname, profile.system.domain);
        let Some(rc) = alerts::msmtprc(&profile.alerts, &fqdn) else {
            continue;
        };
        let rc = rc.replace(&alerts::secret(alerts::SMTP_PASSWORD), "pa ss!word");
        let file = dir.join("msmtprc");
        std::fs::write(&file, &rc).expect("write");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("mode");
        let out = Command::new("msmtp")
            .arg("-C")
            .arg(&file)
            .args(["--pretend", "-a", "default", "admin@example.org"])
            .output()
            .expect("msmtp runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{path}: msmtp:\n{stderr}\n{rc}");
        assert!(
            stdout.contains("host = smtp.example.org"),
            "{path}: {stdout}"
        );
        if profile
            .alerts
            .email
            .as_ref()
            .is_some_and(|e| e.user.is_some())
        {
            assert!(
                stdout.contains("password = *"),
                "{path}: msmtp read no password:\n{stdout}"
            );
        }
        checked += 1;
    }
    std::fs::remove_dir_all(&dir).ok();
    assert!(checked >= 3, "checked {checked}");
}

/// The boot environments' units, for every shipped profile, pass
/// `systemd-analyze verify` (hearth itself stands in as /bin/true: the
/// host has no /usr/bin/hearth).
#[test]
fn boot_environment_units_pass_systemd_analyze_verify() {
    if !tool("systemd-analyze", "systemd") {
        return;
    }
    use hearth_installer::services::{boot_env::BootEnvironments, Service};
    for (name, profile) in shipped() {
        let dir = scratch("units").join(name.replace('/', "_"));
        std::fs::create_dir_all(&dir).expect("unit dir");
        let mut units = Vec::new();
        for file in BootEnvironments.files(&profile) {
            let path = file.path.display().to_string();
            let Some(unit) = path.strip_prefix("/etc/systemd/system/") else {
                continue;
            };
            let text = file.content.replace("/usr/bin/hearth", "/bin/true");
            std::fs::write(dir.join(unit), text).expect("unit");
            units.push(dir.join(unit));
        }
        assert_eq!(
            units.len(),
            3,
            "{name}: boot-ok, deadline timer and service"
        );
        let out = Command::new("systemd-analyze")
            .arg("verify")
            .args(&units)
            .output()
            .expect("systemd-analyze");
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The unit that lets guests' traffic pass Docker's firewall passes
/// `systemd-analyze verify` for every shipped profile that writes it
/// (/bin/true stands in for iptables, which the host may lack).
#[test]
fn docker_guest_bridge_unit_passes_systemd_analyze_verify() {
    if !tool("systemd-analyze", "systemd") {
        return;
    }
    use hearth_installer::services::docker::bridge;
    let mut checked = 0;
    for (name, profile) in shipped() {
        let Some(unit) = bridge::unit(&profile) else {
            continue;
        };
        let dir = scratch("docker-units").join(name.replace('/', "_"));
        std::fs::create_dir_all(&dir).expect("unit dir");
        let path = dir.join(bridge::UNIT);
        std::fs::write(&path, unit.replace("/usr/sbin/iptables", "/bin/true")).expect("unit");
        let out = Command::new("systemd-analyze")
            .arg("verify")
            .arg(&path)
            .output()
            .expect("systemd-analyze");
        let errors = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{name}: {errors}");
        checked += 1;
    }
    assert!(
        checked >= 2,
        "homelab and hypervisor write it; checked {checked}"
    );
}
