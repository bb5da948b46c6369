//! Reaching a guest's TCP port from the host, through a QEMU user-network
//! forward: the host side always accepts, so "closed" shows as the
//! connection ending (or staying silent) instead of as a refused connect.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// The first line a service behind host `port` sends unasked; empty when
/// nothing comes within `timeout` (a closed port, through QEMU's forward).
pub fn first_line(port: u16, timeout: Duration) -> String {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = stream.set_read_timeout(Some(timeout));
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
        if got.contains(&b'\n') {
            break;
        }
    }
    let text = String::from_utf8_lossy(&got);
    text.lines().next().unwrap_or_default().to_string()
}

/// Sends a line to an echo service behind host `port`; true when it comes back.
pub fn echoes(port: u16, timeout: Duration) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(timeout));
    if stream.write_all(b"hearth-probe\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    let mut got = Vec::new();
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
        if got.ends_with(b"\n") {
            break;
        }
    }
    got == b"hearth-probe\n"
}

/// `GET path` with extra header lines; returns the status code and body.
pub fn http_get(port: u16, path: &str, headers: &[String]) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for header in headers {
        request.push_str(&format!("{header}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes())?;
    // The body may be binary (a restic repository's config is encrypted).
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes)?;
    let response = String::from_utf8_lossy(&bytes);
    // "HTTP/1.1 200 OK"
    let status = response
        .get(9..12)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {response:.80}")))?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// The status code of `GET path` with HTTP basic authentication.
pub fn http_status(port: u16, path: &str, user: &str, password: &str) -> std::io::Result<u16> {
    use base64::Engine;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    http_get(port, path, &[format!("Authorization: Basic {auth}")]).map(|(status, _)| status)
}
