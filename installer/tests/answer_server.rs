//! `hearth answer-server` as a fleet uses it: started on a folder of rules
//! and templates, asked over https (its own certificate, pinned by
//! fingerprint) by the installer's own client with a machine's facts.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use hearth_installer::answer::ReportTo;
use hearth_installer::fleet::facts::{Dmi, Facts, Nic};
use hearth_installer::fleet::{report, tls};
use hearth_installer::install::fetch::{self, Fetched};
use hearth_installer::inventory::Inventory;

const TOKEN: &str = "fleet-token-1";

struct Server {
    child: Child,
    dir: PathBuf,
    url: String,
    fingerprint: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start(name: &str) -> Server {
    let dir = std::env::temp_dir().join(format!(
        "hearth-answer-server-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(Path::new("tests/fixtures/answer-server"), &dir);
    std::fs::write(dir.join("token"), format!("{TOKEN}\n")).expect("token");
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args([
            "answer-server",
            &dir.display().to_string(),
            "--listen",
            &listen,
            "--profiles",
            "../profiles",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("answer-server starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let fingerprint = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| {
            l.strip_prefix(hearth_installer::fleet::server::FINGERPRINT_LINE)
                .map(String::from)
        })
        .expect("the server prints its fingerprint");
    std::thread::spawn(move || lines.for_each(drop));
    std::thread::sleep(Duration::from_millis(300));
    Server {
        child,
        dir,
        url: format!("https://{listen}"),
        fingerprint,
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("dir");
    for entry in std::fs::read_dir(from).expect("read").flatten() {
        let target = to.join(entry.file_name());
        match entry.path().is_dir() {
            true => copy_dir(&entry.path(), &target),
            false => drop(std::fs::copy(entry.path(), &target).expect("copy")),
        }
    }
}

fn facts(mac: &str, disk_serial: &str, dmi_serial: &str) -> Facts {
    let text = std::fs::read_to_string("tests/fixtures/machines/one-disk/inventory.json")
        .expect("inventory");
    let mut inventory: Inventory = serde_json::from_str(&text).expect("inventory json");
    inventory.disks[0].serial = Some(disk_serial.into());
    Facts {
        profile: "minimal".into(),
        dmi: Dmi {
            serial: dmi_serial.into(),
            product: "Standard PC (Q35 + ICH9, 2009)".into(),
            ..Dmi::default()
        },
        nics: vec![Nic {
            name: "enp0s2".into(),
            mac: mac.into(),
            link: true,
        }],
        inventory,
        ..Facts::default()
    }
}

fn ask(server: &Server, facts: &Facts, token: Option<&str>, pin: &str) -> Fetched {
    let request = fetch::Request {
        url: format!("{}/answer", server.url),
        fingerprint: Some(tls::parse_fingerprint(pin).expect("pin")),
        token: token.map(String::from),
        deadline: Duration::from_secs(10),
        facts: Some(serde_json::to_vec(facts).expect("json")),
        ..fetch::Request::default()
    };
    fetch::fetch(&request).expect("a request the client accepts")
}

fn hostname_of(fetched: &Fetched) -> String {
    let Fetched::Answer(body) = fetched else {
        panic!("no answer: {fetched:?}")
    };
    let table: toml::Table = toml::from_str(&String::from_utf8_lossy(body)).expect("answer toml");
    table["hostname"].as_str().expect("hostname").to_string()
}

#[test]
fn each_machine_gets_its_own_answer_and_the_log_names_it() {
    let server = start("rules");
    let pin = server.fingerprint.clone();
    let alpha = ask(
        &server,
        &facts("52:54:00:aa:00:01", "QM1", ""),
        Some(TOKEN),
        &pin,
    );
    assert_eq!(hostname_of(&alpha), "alpha");
    let beta = ask(
        &server,
        &facts("52:54:00:bb:00:01", "BETA-7", ""),
        Some(TOKEN),
        &pin,
    );
    assert_eq!(hostname_of(&beta), "beta");
    let nobody = ask(
        &server,
        &facts("52:54:00:cc:00:01", "QM3", ""),
        Some(TOKEN),
        &pin,
    );
    assert!(
        matches!(&nobody, Fetched::NoAnswer(why) if why.contains("no machine in server.toml matches")),
        "{nobody:?}"
    );
    let log = std::fs::read_to_string(server.dir.join("answer-server.log")).expect("log");
    assert!(log.contains("machine=alpha served"), "{log}");
    assert!(log.contains("machine=beta served"), "{log}");
    assert!(log.contains("no-match"), "{log}");
}

#[test]
fn a_wrong_answer_a_wrong_token_and_a_wrong_certificate_are_refused() {
    let server = start("refused");
    let pin = server.fingerprint.clone();
    let gamma = ask(
        &server,
        &facts("52:54:00:dd:00:01", "QM4", "GAMMA"),
        Some(TOKEN),
        &pin,
    );
    assert!(
        matches!(&gamma, Fetched::Refused(why) if why.contains("machine gamma is refused") && why.contains("ata-NOT_THERE")),
        "{gamma:?}"
    );
    let log = std::fs::read_to_string(server.dir.join("answer-server.log")).expect("log");
    assert!(log.contains("machine=gamma refused"), "{log}");
    let alpha = facts("52:54:00:aa:00:01", "QM1", "");
    let no_token = ask(&server, &alpha, None, &pin);
    assert!(
        matches!(&no_token, Fetched::Refused(why) if why.contains("401")),
        "{no_token:?}"
    );
    let other = tls::fingerprint(b"another certificate");
    let wrong_pin = ask(&server, &alpha, Some(TOKEN), &other);
    assert!(
        matches!(&wrong_pin, Fetched::Refused(why) if why.contains("certificate")),
        "{wrong_pin:?}"
    );
}

#[test]
fn reports_are_kept_by_host() {
    let server = start("reports");
    let to = ReportTo {
        url: format!("{}/report", server.url),
        token: Some(TOKEN.into()),
        fingerprint: Some(server.fingerprint.clone()),
    };
    let machine = report::Machine {
        kernel: "6.12".into(),
        zfs: "2.3".into(),
        dmi_serial: "S".into(),
        macs: vec!["52:54:00:aa:00:01".into()],
    };
    let sent = report::build(
        "alpha",
        None,
        None,
        "# [1] partition the disks: done in 1.0s\n",
        machine,
    );
    report::send(&to, &sent).expect("the server takes the report");
    let kept: Vec<PathBuf> = std::fs::read_dir(server.dir.join("reports"))
        .expect("reports")
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(kept[0]
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .starts_with("alpha-"));
    let text = std::fs::read_to_string(&kept[0]).expect("report");
    assert!(
        text.contains("\"outcome\": \"done\"") && !text.contains(TOKEN),
        "{text}"
    );
}
