//! Reaching a guest's TCP port from the host, through a QEMU user-network
//! forward: the host side always accepts, so "closed" shows as the
//! connection ending (or staying silent) instead of as a refused connect.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

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

/// The status code of `GET path` with HTTP basic authentication.
pub fn http_status(port: u16, path: &str, user: &str, password: &str) -> std::io::Result<u16> {
    use base64::Engine;
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic {auth}\r\nConnection: close\r\n\r\n"
    )?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head)?;
    // "HTTP/1.1 200"
    String::from_utf8_lossy(&head[9..12])
        .parse()
        .map_err(|_| std::io::Error::other("not an HTTP status line"))
}
