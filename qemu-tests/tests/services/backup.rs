//! Backups in and out: restic from the host to the rest-server, zfs
//! receive over ssh, the cloud backup with its restore test, replication
//! jobs and sanoid's snapshots, each from the profile's own sections.

use std::process::{Command, Output, Stdio};

use hearth_schema::profile::Profile;
use qemu_tests::{probe, ssh};

use super::super::Scenario;
use super::sender::Sender;
use super::Forwards;

/// The key of a client's own restic repository on the rest-server (what
/// the client keeps; the server never sees it).
pub const CLIENT_REPOSITORY_KEY: &str = "the client's own repository key";

/// A dataset's mountpoint on the server.
pub fn mountpoint(scenario: &Scenario, port: u16, dataset: &str) -> String {
    let at = scenario.root(port, &format!("zfs get -H -o value mountpoint '{dataset}'"));
    at.trim().to_string()
}

/// restic on the host backs up to the rest-server as the profile's first
/// client, with the password made at first boot, and restores; the files
/// land in that client's repository on the dataset; a wrong password and
/// another client's repository are refused.
pub fn rest_server_from_outside(
    scenario: &Scenario,
    port: u16,
    profile: &Profile,
    forwards: &Forwards,
) {
    let Some(rest) = profile
        .services
        .backup_target
        .as_ref()
        .and_then(|b| b.rest_server.as_ref())
    else {
        return;
    };
    let client = rest.clients.first().map_or("hearth", String::as_str);
    let other = rest.clients.get(1).map_or("someone-else", String::as_str);
    let http = forwards.tcp(rest.port);
    let password = scenario.root(
        port,
        &format!("cat /etc/hearth/rest-server/{client}.password"),
    );
    let password = password.trim();
    let active = scenario.root(port, "systemctl is-active hearth-rest-server.service");
    assert_eq!(active.trim(), "active");
    let restic = |args: &[&str]| -> Output {
        Command::new("restic")
            .args([
                "-r",
                &format!("rest:http://{client}:{password}@127.0.0.1:{http}/{client}/"),
            ])
            .args(args)
            .env("RESTIC_PASSWORD", CLIENT_REPOSITORY_KEY)
            .env("RESTIC_CACHE_DIR", scenario.dir.join("restic-cache"))
            .output()
            .expect("restic (apt install restic)")
    };
    let data = scenario.dir.join(format!("{client}-files"));
    std::fs::create_dir_all(&data).expect("dir");
    std::fs::write(data.join("thesis.txt"), "chapter one\n").expect("file");
    // restic records the path without `..`: restore finds it there.
    let data = std::fs::canonicalize(&data).expect("canonical path");
    let restored = scenario.dir.join(format!("{client}-restored"));
    for args in [
        vec!["init".to_string()],
        vec!["backup".into(), data.display().to_string()],
        vec![
            "restore".into(),
            "latest".into(),
            "--target".into(),
            restored.display().to_string(),
        ],
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = restic(&args);
        assert!(
            out.status.success(),
            "restic {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let back = restored
        .join(data.strip_prefix("/").unwrap_or(&data))
        .join("thesis.txt");
    assert_eq!(
        std::fs::read_to_string(&back).expect("restored file"),
        "chapter one\n"
    );
    let root = mountpoint(scenario, port, &rest.dataset);
    scenario.root(port, &format!("test -f '{root}/{client}/config'"));
    // Straight HTTP for the refusals: restic would retry them for minutes.
    let status = |password: &str, path: &str| {
        probe::http_status(http, path, client, password).expect("rest-server answers")
    };
    assert_eq!(status(password, &format!("/{client}/config")), 200);
    assert_eq!(
        status("not-the-password", &format!("/{client}/config")),
        401
    );
    assert_ne!(
        status(password, &format!("/{other}/config")),
        200,
        "a client reaches only its own repository"
    );
}

/// The backup unit makes the repository on first use and backs up the
/// profile's paths; `hearth restore-test` brings a new file back intact.
/// Only where the answer pointed the repository at this server's own
/// rest-server (the test cannot reach another).
pub fn cloud_backup(scenario: &Scenario, port: u16, profile: &Profile) {
    let (Some(backup), Some(client)) = (&profile.services.cloud_backup, rest_client(profile))
    else {
        return;
    };
    let timer = scenario.root(port, "systemctl is-enabled hearth-restic-backup.timer");
    assert_eq!(timer.trim(), "enabled");
    // What the admin adds for a rest: repository: its credentials.
    scenario.root(
        port,
        &format!("printf 'RESTIC_REST_USERNAME={client}\\nRESTIC_REST_PASSWORD=%s\\n' \"$(cat /etc/hearth/rest-server/{client}.password)\" >> /etc/hearth/restic.env"),
    );
    let file = format!("{}/restore-test.txt", backup.paths[0].display());
    scenario.root(port, &format!("echo 'kept in the cloud' > '{file}'"));
    scenario.root(port, "systemctl start hearth-restic-backup.service");
    let report = scenario.root(port, &format!("hearth restore-test '{file}'"));
    assert!(report.contains("came back identical"), "{report}");
    let mode = scenario.root(
        port,
        "stat -c %a /etc/hearth/restic.env /etc/hearth/restic.password",
    );
    assert_eq!(mode.split_whitespace().collect::<Vec<_>>(), ["600", "600"]);
}

/// The rest-server client the test's answer backs this server up as.
pub fn rest_client(profile: &Profile) -> Option<String> {
    let rest = profile
        .services
        .backup_target
        .as_ref()?
        .rest_server
        .as_ref()?;
    Some(
        rest.clients
            .first()
            .cloned()
            .unwrap_or_else(|| "hearth".into()),
    )
}

/// `zfs send | ssh <user>@server zfs receive`: from a second machine on
/// the network (`sender`), or with the stream passing through the host.
/// The profile's receive user lands it in its own dataset and nowhere
/// else, and gets no shell.
pub fn zfs_receive(scenario: &mut Scenario, port: u16, profile: &Profile, second: bool) {
    let Some(receive) = profile
        .services
        .backup_target
        .as_ref()
        .and_then(|b| b.zfs_receive.as_ref())
    else {
        return;
    };
    let target = format!("{}/outgoing", receive.dataset);
    if second {
        from_another_machine(scenario, port, (&receive.user, &target));
    } else {
        through_the_host(scenario, port, (&receive.user, &target));
    }
    let names = scenario.root(
        port,
        &format!("zfs list -H -t snapshot -o name -r {}", receive.dataset),
    );
    assert!(names.contains(&format!("{target}@to-send")), "{names}");
    let pool = receive.dataset.split('/').next().unwrap_or_default();
    let elsewhere = send_from_server(scenario, port, &receive.user, &format!("{pool}/not-yours"));
    assert!(
        !elsewhere.status.success(),
        "{} received outside its dataset",
        receive.user
    );
    // No shell: the forced command runs only zfs receive (and list/get).
    let shell = ssh::command(&scenario.key, port, &receive.user, "id; cat /etc/passwd")
        .output()
        .expect("ssh");
    let said = String::from_utf8_lossy(&shell.stdout);
    assert!(
        !shell.status.success() && !said.contains("uid="),
        "{} ran a command of its own: {said}",
        receive.user
    );
}

/// The minimal profile on a machine of its own snapshots a dataset and
/// sends it to the server over ssh, as a LAN machine backing up does.
fn from_another_machine(scenario: &mut Scenario, port: u16, (user, target): (&str, &str)) {
    let sender = Sender::start(scenario);
    sender.take_key(scenario);
    sender.root(
        scenario,
        "zfs create -o mountpoint=/srv/outgoing rpool/outgoing && echo sent > /srv/outgoing/sent.txt && zfs snapshot rpool/outgoing@to-send",
    );
    sender.root(
        scenario,
        &format!("zfs send rpool/outgoing@to-send | ssh -o StrictHostKeyChecking=no -o BatchMode=yes -p {port} {user}@10.0.2.2 zfs receive -u {target}"),
    );
    sender.stop();
}

/// A snapshot made on the server streamed through the host back to it.
fn through_the_host(scenario: &Scenario, port: u16, (user, target): (&str, &str)) {
    let landed = send_from_server(scenario, port, user, target);
    assert!(
        landed.status.success(),
        "zfs receive as {user}: {}",
        String::from_utf8_lossy(&landed.stderr)
    );
}

/// `zfs send` of a snapshot made on the server, piped through the host
/// into `ssh <user>@server zfs receive -u <target>`.
fn send_from_server(scenario: &Scenario, port: u16, user: &str, target: &str) -> Output {
    let pool = target.split('/').next().unwrap_or_default();
    let source = format!("{pool}/hearth-outgoing");
    scenario.root(
        port,
        &format!("zfs list {source}@to-send >/dev/null 2>&1 || {{ zfs create -p {source} && zfs snapshot {source}@to-send; }}"),
    );
    let mut send = ssh::command(
        &scenario.key,
        port,
        "root",
        &format!("zfs send {source}@to-send"),
    )
    .stdout(Stdio::piped())
    .spawn()
    .expect("ssh zfs send");
    let stream = send.stdout.take().expect("stream");
    // -u: a delegated user may receive but not mount.
    let received = ssh::command(
        &scenario.key,
        port,
        user,
        &format!("zfs receive -u {target}"),
    )
    .stdin(stream)
    .output()
    .expect("ssh zfs receive");
    let _ = send.wait();
    received
}

/// Each local replication job's unit copies its source to its target;
/// its timer is on. Jobs to another host are left to that host.
pub fn replication(scenario: &Scenario, port: u16, profile: &Profile) {
    for (n, job) in profile.services.replication.iter().enumerate() {
        let timer = scenario.root(
            port,
            &format!("systemctl is-enabled hearth-syncoid-{n}.timer"),
        );
        assert_eq!(timer.trim(), "enabled");
        if job.target.contains('@') || job.target.contains(':') {
            eprintln!(
                "replication {n}: {} is on another host, not followed",
                job.target
            );
            continue;
        }
        let source = mountpoint(scenario, port, &job.source);
        scenario.root(
            port,
            &format!("echo kept > '{source}/replicated.txt' && systemctl start hearth-syncoid-{n}.service"),
        );
        let target = mountpoint(scenario, port, &job.target);
        let copy = scenario.root(port, &format!("cat '{target}/replicated.txt'"));
        assert_eq!(copy.trim(), "kept", "{} to {}", job.source, job.target);
    }
}

/// sanoid takes each policy's snapshots (its timer would, within 15
/// minutes), named for the periods the policy keeps.
pub fn snapshots(scenario: &Scenario, port: u16, profile: &Profile) {
    let Some(snapshots) = &profile.services.snapshots else {
        return;
    };
    scenario.root(port, "sanoid --cron");
    for policy in &snapshots.policies {
        let periods = [
            ("frequently", policy.frequently),
            ("hourly", policy.hourly),
            ("daily", policy.daily),
            ("weekly", policy.weekly),
            ("monthly", policy.monthly),
        ];
        for dataset in &policy.datasets {
            let names = scenario.root(
                port,
                &format!("zfs list -H -t snapshot -o name -d 1 {dataset}"),
            );
            for (period, keep) in periods {
                let wanted = format!("{dataset}@autosnap_");
                let taken = names
                    .lines()
                    .any(|n| n.starts_with(&wanted) && n.ends_with(&format!("_{period}")));
                assert_eq!(taken, keep > 0, "{dataset} {period} (keep {keep}): {names}");
            }
        }
    }
}
