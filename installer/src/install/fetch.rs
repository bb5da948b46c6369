//! An answer fetched over the network (`hearth.answer=URL`). An answer
//! holds password hashes and says which disks to erase, so it comes over
//! https, or over plain http only when the kernel command line pins its
//! SHA-256; it is small, and a network that is still coming up is waited
//! for until a deadline, with a line on the console for each try.

use std::io::Read;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// No answer is this big; a larger body is refused, not read to the end.
pub const MAX_BYTES: u64 = 1024 * 1024;
/// How long the live system waits for the answer's server by default
/// (`hearth.answer-timeout=` seconds changes it).
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(300);
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(20);

/// Where and how to fetch, from the kernel command line.
pub struct Request {
    pub url: String,
    pub sha256: Option<String>,
    pub deadline: Duration,
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

/// The answer's bytes, checked against the pin when there is one.
pub fn fetch(request: &Request) -> Result<Vec<u8>> {
    request.check()?;
    let body = with_retries(request)?;
    if let Some(pin) = &request.sha256 {
        let got = hearth_system::files::sha256(&body);
        if got != pin.to_lowercase() {
            bail!(
                "the answer file at {} has SHA-256 {got}, the kernel command line pins {pin}",
                request.url
            );
        }
    }
    Ok(body)
}

fn with_retries(request: &Request) -> Result<Vec<u8>> {
    let started = Instant::now();
    let mut wait = Duration::from_secs(1);
    for attempt in 1.. {
        match once(&request.url) {
            Ok(body) => return Ok(body),
            Err(err) if started.elapsed() + wait < request.deadline && retryable(&err) => {
                eprintln!(
                    "hearth: the answer at {} is not reachable yet (try {attempt}: {err:#}); trying again in {}s",
                    request.url,
                    wait.as_secs()
                );
                std::thread::sleep(wait);
                wait = (wait * 2).min(Duration::from_secs(15));
            }
            Err(err) => {
                return Err(err).with_context(|| {
                    format!(
                        "fetching the answer file from {} (gave up after {}s)",
                        request.url,
                        started.elapsed().as_secs()
                    )
                })
            }
        }
    }
    unreachable!("the loop returns")
}

/// Whether a later try may succeed: the network or server was not there.
/// A body too large, or a 4xx, will not change by waiting.
fn retryable(err: &anyhow::Error) -> bool {
    match err.downcast_ref::<reqwest::Error>() {
        Some(e) => {
            e.is_connect() || e.is_timeout() || e.status().is_some_and(|s| s.is_server_error())
        }
        None => false,
    }
}

fn once(url: &str) -> Result<Vec<u8>> {
    let client = reqwest::blocking::Client::builder()
        .timeout(ATTEMPT_TIMEOUT)
        .build()?;
    let response = client.get(url).send()?.error_for_status()?;
    if response.content_length().is_some_and(|n| n > MAX_BYTES) {
        bail!("the answer is larger than {MAX_BYTES} bytes");
    }
    let mut body = Vec::new();
    response.take(MAX_BYTES + 1).read_to_end(&mut body)?;
    if body.len() as u64 > MAX_BYTES {
        bail!("the answer is larger than {MAX_BYTES} bytes");
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    /// Serves `body` to `count` requests on a local port, from `delay` on.
    fn serve(body: Vec<u8>, count: usize, delay: Duration) -> String {
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
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
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
        assert_eq!(fetch(&request(&url, &body)).expect("fetched"), body);
    }

    #[test]
    fn a_changed_file_and_a_huge_one_are_refused() {
        let body = b"hostname = \"a\"\n".to_vec();
        let url = serve(b"hostname = \"b\"\n".to_vec(), 1, Duration::ZERO);
        let err = format!("{:#}", fetch(&request(&url, &body)).expect_err("pinned"));
        assert!(err.contains("the kernel command line pins"), "{err}");
        let huge = vec![b'#'; MAX_BYTES as usize + 10];
        let url = serve(huge.clone(), 1, Duration::ZERO);
        let err = format!("{:#}", fetch(&request(&url, &huge)).expect_err("too big"));
        assert!(err.contains("larger than"), "{err}");
    }
}
