//! Receivers the tests run on the host for what a guest sends: an HTTP
//! server that records requests and serves a folder (webhooks, a local
//! apt repository), an SMTP server that keeps the mail it is given, and
//! an SNTP server. Guests reach them at 10.0.2.2 (QEMU's user network).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Result};

type Log = Arc<Mutex<Vec<String>>>;

/// Waits until one of `log`'s entries satisfies `test`; returns it.
fn wait_in(
    log: &Log,
    what: &str,
    timeout: Duration,
    test: &dyn Fn(&str) -> bool,
) -> Result<String> {
    let started = Instant::now();
    loop {
        if let Some(found) = log
            .lock()
            .ok()
            .and_then(|l| l.iter().find(|e| test(e)).cloned())
        {
            return Ok(found);
        }
        if started.elapsed() > timeout {
            let seen = log.lock().map(|l| l.join("\n---\n")).unwrap_or_default();
            bail!("no {what} within {timeout:?}; received:\n{seen}");
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// A TCP server on a free loopback port, one thread per connection;
/// `handle` records what it received in the log it is given.
fn listen<F>(handle: F) -> Result<(u16, Log)>
where
    F: Fn(TcpStream, &Log) -> Result<()> + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let log: Log = Arc::default();
    let sink = Arc::clone(&log);
    let handle = Arc::new(handle);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (sink, handle) = (Arc::clone(&sink), Arc::clone(&handle));
            std::thread::spawn(move || {
                let _ = handle(stream, &sink);
            });
        }
    });
    Ok((port, log))
}

/// A receiver on a loopback port, and what it received.
pub struct Sink {
    pub port: u16,
    log: Log,
}

impl Sink {
    /// HTTP: POSTs recorded (request line, headers, body); GETs served
    /// from `root`.
    pub fn http(root: Option<PathBuf>) -> Result<Sink> {
        let (port, log) = listen(move |stream, log| serve(stream, root.as_deref(), log))?;
        Ok(Sink { port, log })
    }

    /// SMTP: any mail taken (and any AUTH PLAIN login, recorded decoded),
    /// each message kept with its envelope.
    pub fn smtp() -> Result<Sink> {
        let (port, log) = listen(session)?;
        Ok(Sink { port, log })
    }

    pub fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        test: impl Fn(&str) -> bool,
    ) -> Result<String> {
        wait_in(&self.log, what, timeout, &test)
    }

    pub fn received(&self) -> Vec<String> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

/// A request path with its %XX escapes decoded (apt asks for
/// `linux-image-6.12.1%2bdeb13_...`); one that does not decode stays as it is.
fn percent_decoded(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| path.to_string())
}

fn serve(stream: TcpStream, root: Option<&Path>, log: &Log) -> Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut head = String::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = value.trim().parse().unwrap_or(0);
        }
        head.push_str(&line);
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    let mut stream = stream;
    let path = percent_decoded(head.split_whitespace().nth(1).unwrap_or("/"));
    if head.starts_with("GET ") || head.starts_with("HEAD ") {
        let file = root.map(|r| r.join(path.trim_start_matches('/')));
        return match file.filter(|f| f.is_file() && !path.contains("..")) {
            Some(file) => {
                let bytes = std::fs::read(file)?;
                write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    bytes.len()
                )?;
                if head.starts_with("GET ") {
                    stream.write_all(&bytes)?;
                }
                Ok(())
            }
            None => Ok(write!(
                stream,
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )?),
        };
    }
    if let Ok(mut entries) = log.lock() {
        entries.push(format!("{head}\n{}", String::from_utf8_lossy(&body)));
    }
    Ok(write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?)
}

fn session(stream: TcpStream, log: &Log) -> Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    let mut mail = String::new();
    out.write_all(b"220 sink ESMTP\r\n")?;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-sink\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n"
        } else if upper.starts_with("AUTH PLAIN") {
            let given = match line.split_whitespace().nth(2) {
                Some(token) => token.to_string(),
                None => {
                    out.write_all(b"334 \r\n")?;
                    let mut token = String::new();
                    reader.read_line(&mut token)?;
                    token.trim().to_string()
                }
            };
            use base64::Engine;
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(given.trim())
                .unwrap_or_default();
            mail.push_str(&format!(
                "AUTH {}\n",
                String::from_utf8_lossy(&decoded).replace('\0', " ")
            ));
            b"235 2.7.0 ok\r\n"
        } else if upper.starts_with("MAIL") || upper.starts_with("RCPT") {
            mail.push_str(&line);
            b"250 ok\r\n"
        } else if upper.starts_with("DATA") {
            out.write_all(b"354 go on\r\n")?;
            loop {
                let mut data = String::new();
                if reader.read_line(&mut data)? == 0 || data == ".\r\n" || data == ".\n" {
                    break;
                }
                mail.push_str(&data);
            }
            if let Ok(mut entries) = log.lock() {
                entries.push(std::mem::take(&mut mail));
            }
            b"250 queued\r\n"
        } else if upper.starts_with("QUIT") {
            out.write_all(b"221 bye\r\n")?;
            return Ok(());
        } else {
            b"250 ok\r\n"
        };
        out.write_all(reply)?;
    }
}

/// An SNTP server on the host's UDP port 123 (QEMU forwards the guest's
/// 10.0.2.2:123 there): stratum 2, the host's clock. None where the port
/// cannot be had (not root, or taken).
pub fn sntp() -> Option<Arc<Mutex<u32>>> {
    let socket = UdpSocket::bind("127.0.0.1:123").ok()?;
    let answered = Arc::new(Mutex::new(0u32));
    let count = Arc::clone(&answered);
    std::thread::spawn(move || {
        let mut buf = [0u8; 128];
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            if n < 48 {
                continue;
            }
            let reply = sntp_reply(&buf[..48]);
            if socket.send_to(&reply, from).is_ok() {
                if let Ok(mut c) = count.lock() {
                    *c += 1;
                }
            }
        }
    });
    Some(answered)
}

fn sntp_reply(request: &[u8]) -> [u8; 48] {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let seconds = now.as_secs() + 2_208_988_800;
    let fraction = (u64::from(now.subsec_nanos()) << 32) / 1_000_000_000;
    let stamp = ((seconds << 32) | fraction).to_be_bytes();
    let mut reply = [0u8; 48];
    reply[0] = 0x24; // no leap warning, version 4, mode 4 (server)
    reply[1] = 2; // stratum
    reply[2] = request[2]; // poll
    reply[3] = 0xEC; // precision 2^-20
    reply[8..12].copy_from_slice(&[0, 0, 0, 0x10]); // root dispersion
    reply[12..16].copy_from_slice(b"LOCL");
    reply[16..24].copy_from_slice(&stamp); // reference
    reply[24..32].copy_from_slice(&request[40..48]); // origin = their transmit
    reply[32..40].copy_from_slice(&stamp); // receive
    reply[40..48].copy_from_slice(&stamp); // transmit
    reply
}

#[cfg(test)]
mod tests {
    #[test]
    fn request_paths_are_percent_decoded() {
        assert_eq!(
            super::percent_decoded("/pool/k-6.12%2bdeb13.deb"),
            "/pool/k-6.12+deb13.deb"
        );
        assert_eq!(super::percent_decoded("/a%zz%2"), "/a%zz%2");
    }
}
