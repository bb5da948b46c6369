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
