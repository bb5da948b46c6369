//! `hearth answer-server DIR`: answers over https for machines that POST
//! their facts (`/answer`), install reports kept (`/report`), and
//! optionally a netboot folder over plain http (iPXE and the initramfs
//! fetch without TLS; the layers are checked against SHA256SUMS).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use anyhow::{Context, Result};
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};

use super::answers::{Answers, Outcome};
use super::facts::Facts;
use super::rules::Config;
use super::tls;

/// How the server's first lines name its certificate's fingerprint (what
/// a script or a test reads).
pub const FINGERPRINT_LINE: &str = "certificate SHA-256 fingerprint: ";

pub struct Options {
    pub dir: PathBuf,
    pub listen: SocketAddr,
    pub profiles: PathBuf,
    /// Names and addresses the self-signed certificate is made for.
    pub names: Vec<String>,
    /// A folder `image-builder build --netboot` wrote, served over http.
    pub netboot: Option<(PathBuf, SocketAddr)>,
}

struct Served {
    answers: Answers,
    token: Option<String>,
    log: Mutex<fs::File>,
}

pub fn run(options: &Options) -> Result<()> {
    let served = Arc::new(served(options)?);
    let cert = tls::server_files(&options.dir.join("tls"), &options.names)?;
    let fingerprint = tls::fingerprint(&cert);
    println!(
        "answer server: https://{}/answer (reports: /report)",
        options.listen
    );
    println!("{FINGERPRINT_LINE}{fingerprint}");
    println!(
        "kernel command line: hearth.answer=https://{}/answer hearth.answer-fingerprint={fingerprint}",
        options.listen
    );
    let app = Router::new()
        .route("/answer", post(answer))
        .route("/report", post(report))
        .with_state(served);
    let config = server_config(&options.dir.join("tls"))?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        if let Some((dir, listen)) = &options.netboot {
            let files = Router::new().fallback_service(tower_http::services::ServeDir::new(dir));
            let listener = tokio::net::TcpListener::bind(listen).await?;
            println!("netboot files: http://{listen}/ from {}", dir.display());
            tokio::spawn(async move { axum::serve(listener, files).await });
        }
        super::https::serve(options.listen, config, app).await
    })
}

fn served(options: &Options) -> Result<Served> {
    let config = Config::load(&options.dir.join("server.toml"))?;
    let token = match &config.token_file {
        Some(file) => Some(first_line(&options.dir.join(file))?),
        None => None,
    };
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(options.dir.join("answer-server.log"))?;
    let answers = Answers {
        dir: options.dir.clone(),
        config,
        profiles: options.profiles.clone(),
    };
    Ok(Served {
        answers,
        token,
        log: Mutex::new(log),
    })
}

fn first_line(path: &Path) -> Result<String> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let line = text.lines().next().unwrap_or_default().trim().to_string();
    anyhow::ensure!(!line.is_empty(), "{}: the token is empty", path.display());
    Ok(line)
}

fn server_config(dir: &Path) -> Result<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs =
        CertificateDer::pem_file_iter(dir.join("cert.pem"))?.collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_file(dir.join("key.pem"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?)
}

type Reply = (StatusCode, String);

fn authorized(served: &Served, headers: &HeaderMap) -> Result<(), Reply> {
    let Some(token) = &served.token else {
        return Ok(());
    };
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given == Some(token.as_str()) {
        true => Ok(()),
        false => Err((
            StatusCode::UNAUTHORIZED,
            "a bearer token is required (hearth.answer-token=)".into(),
        )),
    }
}

async fn answer(
    State(served): State<Arc<Served>>,
    Extension(peer): Extension<SocketAddr>,
    headers: HeaderMap,
    Json(facts): Json<Facts>,
) -> Reply {
    if let Err(reply) = authorized(&served, &headers) {
        served.record(peer, "-", "unauthorized", &reply.1);
        return reply;
    }
    let who = format!(
        "macs={} dmi-serial={:?}",
        facts
            .nics
            .iter()
            .map(|n| n.mac.as_str())
            .collect::<Vec<_>>()
            .join(","),
        facts.dmi.serial
    );
    match served.answers.decide(&facts) {
        Outcome::Answer { machine, text } => {
            served.record(peer, &machine, "served", &who);
            (StatusCode::OK, text)
        }
        Outcome::NoMatch(reason) => {
            served.record(peer, "-", "no-match", &reason);
            (StatusCode::NOT_FOUND, reason)
        }
        Outcome::Refused { machine, reason } => {
            served.record(peer, &machine, "refused", &format!("{who}: {reason}"));
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("the answer for machine {machine} is refused: {reason}"),
            )
        }
    }
}

async fn report(
    State(served): State<Arc<Served>>,
    Extension(peer): Extension<SocketAddr>,
    headers: HeaderMap,
    Json(report): Json<serde_json::Value>,
) -> Reply {
    if let Err(reply) = authorized(&served, &headers) {
        served.record(peer, "-", "unauthorized", &reply.1);
        return reply;
    }
    let host = report.get("host").and_then(|h| h.as_str()).unwrap_or("");
    if !hearth_schema::validate::text::is_hostname(host) {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            "the report's host is not a host name".into(),
        );
    }
    let outcome = report
        .get("outcome")
        .and_then(|o| o.as_str())
        .unwrap_or("?")
        .to_string();
    match served.keep_report(host, &report) {
        Ok(path) => {
            served.record(
                peer,
                host,
                &format!("report-{outcome}"),
                &path.display().to_string(),
            );
            (StatusCode::OK, "kept\n".into())
        }
        Err(err) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{err:#}")),
    }
}

impl Served {
    /// One line per request, in the log file and on stdout.
    fn record(&self, peer: SocketAddr, machine: &str, outcome: &str, detail: &str) {
        let when = httpdate::fmt_http_date(SystemTime::now());
        let detail = detail.replace('\n', " | ");
        let line = format!(
            "{when} peer={} machine={machine} {outcome}: {detail}\n",
            peer.ip()
        );
        print!("{line}");
        if let Ok(mut log) = self.log.lock() {
            let _ = log.write_all(line.as_bytes());
        }
    }

    fn keep_report(&self, host: &str, report: &serde_json::Value) -> Result<PathBuf> {
        let dir = self.answers.dir.join("reports");
        fs::create_dir_all(&dir)?;
        let secs = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)?
            .as_secs();
        let path = dir.join(format!("{host}-{secs}.json"));
        fs::write(&path, serde_json::to_string_pretty(report)? + "\n")?;
        Ok(path)
    }
}
