//! Every service a profile enables, checked as a user of that service does
//! it: real clients on the host through forwarded ports or ssh, and the
//! service's own tools on the server. The checks read the profile, so a
//! check written once covers every profile that enables its service.

use std::collections::BTreeMap;
use std::time::Instant;

use hearth_schema::profile::{Base, Profile};

use super::Scenario;

pub mod backup;
pub mod guests;
pub mod net;
pub mod samba;
pub mod sender;

pub use samba::{smbclient, smbd_listening};

/// The Samba password of every user in the test answers; the answer
/// carries only its NT hash.
pub const SMB_PASSWORD: &str = "hearth-smb-Secret1";

/// A guest port no enabled service opens: the firewall must refuse it.
pub const PROBE_PORT: u16 = 7777;

/// Guest ports on the host's 127.0.0.1: (protocol, guest port, host port).
pub struct Forwards(pub Vec<(&'static str, u16, u16)>);

impl Forwards {
    pub fn tcp(&self, guest: u16) -> u16 {
        self.find("tcp", guest)
    }

    pub fn udp(&self, guest: u16) -> u16 {
        self.find("udp", guest)
    }

    fn find(&self, proto: &str, guest: u16) -> u16 {
        self.0
            .iter()
            .find(|(p, g, _)| *p == proto && *g == guest)
            .map(|(_, _, host)| *host)
            .unwrap_or_else(|| panic!("{proto} {guest} is not forwarded"))
    }
}

/// The guest ports the checks of `profile`'s services reach from the host.
pub fn wanted(profile: &Profile) -> Vec<(&'static str, u16)> {
    let services = &profile.services;
    let mut ports = Vec::new();
    if let Some(samba) = &services.samba {
        ports.push(("tcp", 445));
        if samba.shares.iter().any(|s| s.time_machine) {
            ports.push(("udp", samba::MDNS_FORWARD));
        }
    }
    if services.firewall.enabled {
        ports.push(("tcp", PROBE_PORT));
    }
    if let Some(wireguard) = &services.wireguard {
        ports.push(("udp", wireguard.listen_port));
    }
    if let Some(rest) = services
        .backup_target
        .as_ref()
        .and_then(|b| b.rest_server.as_ref())
    {
        ports.push(("tcp", rest.port));
    }
    if services.docker.is_some() {
        ports.push(("tcp", 8081));
    }
    if profile.base == Base::Proxmox {
        ports.push(("tcp", net::WEB_UI));
    }
    ports
}

/// Lines the test answer needs for the checks: every user's Samba
/// password, the test key as a sender of zfs streams, the cloud backup
/// pointed at this server's own rest-server.
pub fn answer_lines(profile: &Profile, public: &str) -> (String, String) {
    let services = &profile.services;
    let mut top = String::new();
    if services
        .backup_target
        .as_ref()
        .is_some_and(|b| b.zfs_receive.is_some())
    {
        top.push_str(&format!("zfs-receive-ssh-keys = [\"{public}\"]\n"));
    }
    if let (Some(_), Some(client)) = (&services.cloud_backup, backup::rest_client(profile)) {
        let rest = services
            .backup_target
            .as_ref()
            .and_then(|b| b.rest_server.as_ref());
        let port = rest.map_or(8000, |r| r.port);
        top.push_str(&format!(
            "cloud-backup-repository = \"rest:http://127.0.0.1:{port}/{client}/hearth\"\n"
        ));
    }
    let user = if services.samba.is_some() {
        let hash = hearth_schema::password::nt_hash(SMB_PASSWORD);
        format!("samba-nt-hash = \"{hash}\"\n")
    } else {
        String::new()
    };
    (top, user)
}

pub use qemu_tests::test_machine::CHECKS;

/// How the checks run: the forwarded ports; whether zfs streams come from
/// a second machine installed for it (minutes more) or through the host;
/// the checks a sidecar leaves out, with why.
pub struct Run<'a> {
    pub forwards: &'a Forwards,
    pub second_machine: bool,
    pub skip: &'a BTreeMap<String, String>,
}

impl Run<'_> {
    fn wants(&self, check: &str) -> bool {
        match self.skip.get(check) {
            Some(why) => {
                eprintln!("not checked: {check}: {why}");
                false
            }
            None => true,
        }
    }
}

/// Each enabled service from outside.
pub fn check_all(scenario: &mut Scenario, port: u16, profile: &Profile, run: &Run) {
    let started = Instant::now();
    let forwards = run.forwards;
    if run.wants("snapshots") {
        backup::snapshots(scenario, port, profile);
    }
    if run.wants("samba") {
        samba::shares(scenario, port, profile, forwards);
    }
    if profile.services.firewall.enabled && run.wants("firewall") {
        net::firewall_from_outside(scenario, port, forwards.tcp(PROBE_PORT));
    }
    if profile.base == Base::Proxmox && run.wants("web-ui") {
        net::web_ui_lan_only(scenario, port, forwards.tcp(net::WEB_UI));
    }
    if run.wants("rest-server") {
        backup::rest_server_from_outside(scenario, port, profile, forwards);
    }
    if run.wants("cloud-backup") {
        backup::cloud_backup(scenario, port, profile);
    }
    if run.wants("zfs-receive") {
        backup::zfs_receive(scenario, port, profile, run.second_machine);
    }
    if run.wants("replication") {
        backup::replication(scenario, port, profile);
    }
    if run.wants("syncthing") {
        net::syncthing_from_outside(scenario, port, profile);
    }
    if run.wants("nfs") {
        net::nfs_clients(scenario, port, profile);
    }
    if run.wants("docker") {
        guests::compose_app_from_outside(scenario, port, profile, forwards);
    }
    let container = if run.wants("incus") {
        guests::incus_guests(scenario, port, profile)
    } else {
        None
    };
    if run.wants("wireguard") {
        net::wireguard_from_outside(scenario, port, profile, forwards, container.as_deref());
    }
    scenario.phase("service checks", started);
}
