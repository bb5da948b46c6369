//! An answer fetched over the network (`hearth.answer=URL`). The machine
//! POSTs its facts (disks, NICs, DMI, memory, firmware) and the server
//! answers for it, as Proxmox's automated installer does. An answer holds
//! password hashes and says which disks to erase, so it comes over https
//! (the system's CA store, a CA file on the medium, or a certificate
//! fingerprint on the kernel command line), or over plain http only when
//! the kernel command line pins its SHA-256. A server that is not there yet
//! is waited for until a deadline, with a line on the consoles at each try.

use std::io::Read;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::console::mark;

/// No answer is this big; a larger body is refused, not read to the end.
pub const MAX_BYTES: u64 = 1024 * 1024;
/// How long the live system waits for the answer's server by default
/// (`hearth.answer-timeout=` seconds changes it).
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(300);
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(20);
/// What a refusal's reason may hold on the console.
const REASON_BYTES: usize = 4000;

/// Where and how to fetch, from the kernel command line.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub url: String,
    pub sha256: Option<String>,
    /// The server certificate's SHA-256, lower-case hex.
    pub fingerprint: Option<String>,
    /// A PEM file of the CA that signed the server's certificate.
    pub ca: Option<PathBuf>,
    /// Sent as `Authorization: Bearer`.
    pub token: Option<String>,
    pub deadline: Duration,
    /// The machine's facts as JSON, POSTed; None: a plain GET.
    pub facts: Option<Vec<u8>>,
}

/// What the URL gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    Answer(Vec<u8>),
    /// Nothing for this machine (not found, or no server until the
    /// deadline): the next source in the documented order is tried.
    NoAnswer(String),
    /// The server refused (its reason), or what came is not to be trusted:
    /// the install stops before any disk is touched.
    Refused(String),
}

impl Request {
    /// Refuses, before any connection, what must never be fetched.
    pub fn check(&self) -> Result<()> {
        if let Some(pin) = &self.sha256 {
            if !hearth_schema::validate::checks::is_sha256(pin) {
                bail!("hearth.answer-sha256={pin} is not a SHA-256 (64 hexadecimal digits)");
            }
        }
        if self.url.starts_with("https://") {
            return Ok(());
        }
        if self.url.starts_with("http://") {
            if self.sha256.is_none() {
                bail!(
                    "refusing the answer at {}: plain http can be changed on the way; use https, or pin the file with hearth.answer-sha256=",
                    self.url
                );
            }
            return Ok(());
        }
        bail!(
            "hearth.answer={}: allowed: an https:// URL, or http:// with hearth.answer-sha256=",
            self.url
        )
    }
}

/// The answer's bytes, or why there are none.
pub fn fetch(request: &Request) -> Result<Fetched> {
    request.check()?;
    let client = client(request)?;
    let fetched = with_retries(&client, request);
    let (Fetched::Answer(body), Some(pin)) = (&fetched, &request.sha256) else {
        return Ok(fetched);
    };
    let got = hearth_system::files::sha256(body);
    if got != pin.to_lowercase() {
        return Ok(Fetched::Refused(format!(
            "the answer file at {} has SHA-256 {got}, the kernel command line pins {pin}",
            request.url
        )));
    }
    Ok(fetched)
}

fn client(request: &Request) -> Result<reqwest::blocking::Client> {
    let mut builder = reqwest::blocking::Client::builder().timeout(ATTEMPT_TIMEOUT);
    if let Some(pin) = &request.fingerprint {
        builder = builder.use_preconfigured_tls(crate::fleet::tls::pinned_client(pin)?);
    } else if let Some(ca) = &request.ca {
        let pem =
            std::fs::read(ca).with_context(|| format!("reading the CA file {}", ca.display()))?;
        let cert = reqwest::Certificate::from_pem(&pem)
            .with_context(|| format!("{}: not a PEM certificate", ca.display()))?;
        builder = builder.add_root_certificate(cert);
    }
    Ok(builder.build()?)
}

fn with_retries(client: &reqwest::blocking::Client, request: &Request) -> Fetched {
    let started = Instant::now();
    let mut wait = Duration::from_secs(1);
    for attempt in 1.. {
        let err = match once(client, request) {
            Ok(fetched) => return fetched,
            Err(err) => err,
        };
        if !retryable(&err) {
            return Fetched::Refused(format!("fetching the answer from {}: {err:#}", request.url));
        }
        if started.elapsed() + wait >= request.deadline {
            return Fetched::NoAnswer(format!(
                "no answer from {} after {}s ({attempt} tries; last: {err:#})",
                request.url,
                started.elapsed().as_secs()
            ));
        }
        let line = format!(
            "hearth: {} is not reachable yet (try {attempt}: {err:#}); trying again in {}s",
            request.url,
            wait.as_secs()
        );
        eprintln!("{line}");
        mark(&format!("HEARTH-ANSWER-RETRY {line}"));
        std::thread::sleep(wait);
        wait = (wait * 2).min(Duration::from_secs(15));
    }
    unreachable!("the loop returns")
}

/// Whether a later try may succeed: the network or server was not there.
/// A certificate that does not match will not change by waiting.
fn retryable(err: &anyhow::Error) -> bool {
    let Some(e) = err.downcast_ref::<reqwest::Error>() else {
        return false;
    };
    if format!("{err:#}").contains("certificate") {
        return false;
    }
    e.is_connect() || e.is_timeout() || e.status().is_some_and(|s| s.is_server_error())
}

/// One try: an answer, a 404 (none for this machine), another 4xx
/// (refused, with the server's reason), or an error to retry or not.
fn once(client: &reqwest::blocking::Client, request: &Request) -> Result<Fetched> {
    let mut call = match &request.facts {
        Some(facts) => client
            .post(&request.url)
            .header("content-type", "application/json")
            .body(facts.clone()),
        None => client.get(&request.url),
    };
    if let Some(token) = &request.token {
        call = call.bearer_auth(token);
    }
    let response = call.send()?;
    let status = response.status();
    if status.is_client_error() {
        let reason = reason(response);
        return Ok(match status.as_u16() {
            404 => Fetched::NoAnswer(format!(
                "{} has no answer for this machine: {reason}",
                request.url
            )),
            _ => Fetched::Refused(format!("{} refused ({status}): {reason}", request.url)),
        });
    }
    let response = response.error_for_status()?;
    if response.content_length().is_some_and(|n| n > MAX_BYTES) {
        return Ok(Fetched::Refused(format!(
            "the answer is larger than {MAX_BYTES} bytes"
        )));
    }
    let mut body = Vec::new();
    response.take(MAX_BYTES + 1).read_to_end(&mut body)?;
    if body.len() as u64 > MAX_BYTES {
        return Ok(Fetched::Refused(format!(
            "the answer is larger than {MAX_BYTES} bytes"
        )));
    }
    Ok(Fetched::Answer(body))
}

/// The server's reason, as text, cut short.
fn reason(response: reqwest::blocking::Response) -> String {
    let mut text = Vec::new();
    let _ = response.take(REASON_BYTES as u64).read_to_end(&mut text);
    String::from_utf8_lossy(&text).trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    /// Serves `body` to `count` requests on a local port, from `delay` on.
    fn serve(body: Vec<u8>, count: usize, delay: Duration) -> String {
        serve_status("200 OK", body, count, delay)
    }

    fn serve_status(status: &'static str, body: Vec<u8>, count: usize, delay: Duration) -> String {
        let port = {
            let probe = TcpListener::bind("127.0.0.1:0").expect("port");
            probe.local_addr().expect("addr").port()
        };
        std::thread::spawn(move || {
            std::thread::sleep(delay);
            let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind");
            for stream in listener.incoming().take(count) {
                let mut stream = stream.expect("stream");
                let mut request = [0u8; 2048];
                let _ = stream.read(&mut request);
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
            }
        });
        format!("http://127.0.0.1:{port}/answer.toml")
    }

    fn request(url: &str, body: &[u8]) -> Request {
        Request {
            url: url.into(),
            sha256: Some(hearth_system::files::sha256(body)),
            deadline: Duration::from_secs(30),
            ..Request::default()
        }
    }

    #[test]
    fn plain_http_needs_a_pin_and_other_schemes_are_refused() {
        let mut plain = request("http://192.0.2.1/a.toml", b"x");
        plain.sha256 = None;
        let err = format!("{:#}", fetch(&plain).expect_err("refused"));
        assert!(err.contains("use https, or pin the file"), "{err}");
        let ftp = request("ftp://192.0.2.1/a.toml", b"x");
        assert!(format!("{:#}", ftp.check().expect_err("refused")).contains("allowed: an https://"));
        let mut bad_pin = request("http://192.0.2.1/a.toml", b"x");
        bad_pin.sha256 = Some("abc".into());
        assert!(bad_pin.check().is_err());
    }

    #[test]
    fn a_server_that_comes_up_late_is_waited_for() {
        let body = b"hostname = \"late\"\n".to_vec();
        let url = serve(body.clone(), 1, Duration::from_secs(2));
        assert_eq!(
            fetch(&request(&url, &body)).expect("fetched"),
            Fetched::Answer(body)
        );
    }

    #[test]
    fn a_changed_file_and_a_huge_one_are_refused() {
        let body = b"hostname = \"a\"\n".to_vec();
        let url = serve(b"hostname = \"b\"\n".to_vec(), 1, Duration::ZERO);
        let refused = fetch(&request(&url, &body)).expect("fetched");
        assert!(
            matches!(&refused, Fetched::Refused(why) if why.contains("the kernel command line pins")),
            "{refused:?}"
        );
        let huge = vec![b'#'; MAX_BYTES as usize + 10];
        let url = serve(huge.clone(), 1, Duration::ZERO);
        let refused = fetch(&request(&url, &huge)).expect("fetched");
        assert!(
            matches!(&refused, Fetched::Refused(why) if why.contains("larger than")),
            "{refused:?}"
        );
    }

    #[test]
    fn not_found_and_no_server_fall_through_and_a_refusal_stops() {
        let url = serve_status(
            "404 Not Found",
            b"no machine matches".to_vec(),
            1,
            Duration::ZERO,
        );
        let got = fetch(&request(&url, b"x")).expect("fetched");
        assert!(
            matches!(&got, Fetched::NoAnswer(why) if why.contains("no machine matches")),
            "{got:?}"
        );
        let url = serve_status(
            "422 Unprocessable Entity",
            b"disk QM9 is not there".to_vec(),
            1,
            Duration::ZERO,
        );
        let got = fetch(&request(&url, b"x")).expect("fetched");
        assert!(
            matches!(&got, Fetched::Refused(why) if why.contains("disk QM9 is not there")),
            "{got:?}"
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .expect("port")
            .local_addr()
            .expect("addr")
            .port();
        let mut gone = request(&format!("http://127.0.0.1:{port}/a.toml"), b"x");
        gone.deadline = Duration::from_secs(3);
        let got = fetch(&gone).expect("fetched");
        assert!(
            matches!(&got, Fetched::NoAnswer(why) if why.contains("tries")),
            "{got:?}"
        );
    }
}
