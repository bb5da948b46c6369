//! Samba as its users see it: smbclient on the host through the forwarded
//! port, one check per share for what the profile says of it (who may
//! write, guests, Previous Versions, the recycle bin, Time Machine and its
//! mDNS advertisement).

use std::process::Command;
use std::time::{Duration, Instant};

use hearth_schema::profile::{Profile, SambaShare};

use super::super::Scenario;
use super::{Forwards, SMB_PASSWORD};

/// smbclient against the forwarded port as admin (or as a guest: None).
pub fn smbclient(
    port: u16,
    share: &str,
    password: Option<&str>,
    commands: &str,
) -> anyhow::Result<String> {
    smbclient_as(port, share, password.map(|p| ("admin", p)), commands)
}

/// smbclient as `login` (user, password), or as a guest (None).
pub fn smbclient_as(
    port: u16,
    share: &str,
    login: Option<(&str, &str)>,
    commands: &str,
) -> anyhow::Result<String> {
    let mut cmd = Command::new("smbclient");
    cmd.args(["-p", &port.to_string(), &format!("//127.0.0.1/{share}")]);
    match login {
        Some((user, password)) => cmd.args(["-U", &format!("{user}%{password}")]),
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

/// Every share of the profile, as its users and guests reach it.
pub fn shares(scenario: &Scenario, port: u16, profile: &Profile, forwards: &Forwards) {
    let Some(samba) = &profile.services.samba else {
        return;
    };
    let smb = forwards.tcp(445);
    smbd_listening(scenario, port);
    listed(smb, profile, &samba.shares);
    for share in &samba.shares {
        let user = share
            .users
            .first()
            .or(profile.system.users.first().map(|u| &u.name))
            .expect("a user");
        let login = Some((user.as_str(), SMB_PASSWORD));
        access(scenario, port, smb, share, user);
        if share.previous_versions {
            let path = share.path.display().to_string();
            let login = if share.guest { None } else { login };
            previous_versions(scenario, port, smb, (&share.name, &path), login);
        }
        if share.recycle_bin && !share.read_only {
            recycled(scenario, port, smb, share, user);
        }
        if share.time_machine {
            time_machine_advertised(scenario, port, forwards.udp(MDNS_FORWARD), &share.name);
        }
    }
}

/// Every share listed to a user.
fn listed(smb: u16, profile: &Profile, shares: &[SambaShare]) {
    let user = &profile.system.users[0].name;
    let out = Command::new("smbclient")
        .args(["-p", &smb.to_string(), "-m", "SMB3", "-L", "//127.0.0.1"])
        .args(["-U", &format!("{user}%{SMB_PASSWORD}")])
        .output()
        .expect("smbclient -L");
    let text = String::from_utf8_lossy(&out.stdout);
    for share in shares {
        assert!(
            text.contains(&share.name),
            "{} not listed: {text}",
            share.name
        );
    }
}

/// A writable share takes the user's file and gives it back; a read-only
/// one serves the server's file and refuses a write; guests get in where
/// the share lets them and nowhere else; a wrong password is refused.
fn access(scenario: &Scenario, port: u16, smb: u16, share: &SambaShare, user: &str) {
    let name = &share.name;
    let dir = share.path.display();
    let login = Some((user, SMB_PASSWORD));
    let local = scenario.dir.join(format!("{name}-put.txt"));
    std::fs::write(&local, format!("written over SMB to {name}\n")).expect("local file");
    let back = scenario.dir.join(format!("{name}-get.txt"));
    let put = format!("put {} hello.txt", local.display());
    let get = format!("get hello.txt {}", back.display());
    if share.read_only {
        scenario.root(port, &format!("cp /etc/hostname '{dir}/hello.txt'"));
        let reader = if share.guest { None } else { login };
        smbclient_as(smb, name, reader, &get).expect("the read-only share serves its file");
        smbclient_as(smb, name, login, &put).expect_err("a read-only share refuses a write");
    } else {
        smbclient_as(smb, name, login, &format!("{put}; {get}"))
            .expect("the user writes and reads the share");
        assert_eq!(
            std::fs::read(&back).expect("read back"),
            std::fs::read(&local).expect("local")
        );
    }
    if !share.guest {
        smbclient_as(smb, name, Some((user, "wrong-password")), "ls")
            .expect_err("a wrong password is refused");
    }
    let as_guest = smbclient_as(smb, name, None, "ls");
    assert_eq!(
        as_guest.is_ok(),
        share.guest,
        "guest access to {name}: {as_guest:?}"
    );
}

/// A file deleted over SMB lands in the share's recycle bin, under the
/// user's name.
fn recycled(scenario: &Scenario, port: u16, smb: u16, share: &SambaShare, user: &str) {
    let local = scenario.dir.join(format!("{}-put.txt", share.name));
    smbclient_as(
        smb,
        &share.name,
        Some((user, SMB_PASSWORD)),
        &format!("put {} binned.txt; del binned.txt", local.display()),
    )
    .expect("the user deletes a file");
    let binned = scenario.root(
        port,
        &format!("cat '{}/.recycle/{user}/binned.txt'", share.path.display()),
    );
    assert_eq!(
        binned,
        std::fs::read_to_string(&local).expect("local"),
        "the deleted file is in the recycle bin"
    );
}

/// Windows' "Previous Versions" as a client sees it: a file, a snapshot
/// of the share's dataset named as sanoid names them, the file changed on
/// the server; the user lists the versions SMB offers and reads the one
/// from the snapshot. `login` is a user of the share, or None for a guest.
pub fn previous_versions(
    scenario: &Scenario,
    port: u16,
    smb: u16,
    share: (&str, &str),
    login: Option<(&str, &str)>,
) {
    let (name, dir) = share;
    // Taken now: sanoid's run at boot may have taken this hour's before
    // the file was written, and takes no second one.
    let stamp = scenario.root(
        port,
        &format!(
            "echo 'before the snapshot' > '{dir}/versions.txt' && d=$(zfs list -H -o name '{dir}') \
             && t=$(date -u +%Y-%m-%d_%H:%M:%S) && zfs snapshot \"$d@autosnap_${{t}}_hourly\" && echo $t"
        ),
    );
    let token = format!(
        "@GMT-{}",
        stamp
            .trim()
            .replace('-', ".")
            .replace('_', "-")
            .replace(':', ".")
    );
    scenario.root(
        port,
        &format!("echo 'changed after the snapshot' > '{dir}/versions.txt'"),
    );
    // allinfo looks the file up in every version; in older snapshots it
    // is missing, which smbclient reports, so its NT_STATUS is expected.
    let info =
        smbclient_as(smb, name, login, "allinfo versions.txt").unwrap_or_else(|e| e.to_string());
    assert!(
        info.contains(&token),
        "{token} not offered on {name}: {info}"
    );
    let old = scenario.dir.join(format!("{name}-previous.txt"));
    smbclient_as(
        smb,
        name,
        login,
        &format!("get {token}\\versions.txt {}", old.display()),
    )
    .expect("the previous version is readable");
    assert_eq!(
        std::fs::read_to_string(&old).expect("previous version"),
        "before the snapshot\n",
        "the snapshot's version is the file before the change"
    );
}

/// The guest port the host's mDNS queries are forwarded to. QEMU's user
/// network drops a forward to the guest's 5353 while Avahi multicasts from
/// that port; the check redirects this one to 5353 inside the guest.
pub const MDNS_FORWARD: u16 = 5354;

/// The Time Machine share as a Mac finds it: smbd registers `_adisk._tcp`
/// with Avahi, and its TXT record names the share (`dk0=adVN=<share>,...`).
/// dig asks the server's mDNS responder from the host; from a port other
/// than 5353 that is a legacy unicast query (RFC 6762, 6.7), answered to
/// the asker. The query passes Hearth's firewall as any LAN client's does.
pub fn time_machine_advertised(scenario: &Scenario, port: u16, mdns: u16, share: &str) {
    scenario.root(
        port,
        &format!(
            "nft add table ip hearth-test && nft add chain ip hearth-test pre '{{ type nat hook prerouting priority dstnat; }}' \
             && nft add rule ip hearth-test pre udp dport {MDNS_FORWARD} redirect to :5353"
        ),
    );
    let dig = |args: &[&str]| {
        let out = Command::new("dig")
            .args([
                "-p",
                &mdns.to_string(),
                "@127.0.0.1",
                "+short",
                "+tries=1",
                "+time=3",
            ])
            .args(args)
            .output()
            .expect("dig (apt install bind9-dnsutils)");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let started = Instant::now();
    // smbd registers with Avahi a little after it listens.
    let instance = loop {
        let found = dig(&["_adisk._tcp.local", "PTR"]);
        if let Some(first) = found.lines().next().filter(|l| !l.starts_with(';')) {
            break first.to_string();
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no _adisk._tcp service over mDNS: {found}"
        );
        std::thread::sleep(Duration::from_secs(3));
    };
    let txt = dig(&[&instance, "TXT"]);
    scenario.root(port, "nft delete table ip hearth-test");
    assert!(
        txt.contains(&format!("adVN={share}")),
        "{instance} does not advertise {share}: {txt}"
    );
}
