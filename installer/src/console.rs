//! Lines for the live system's consoles: the kernel log reaches the serial
//! console and tty1 whoever owns them (a getty, the installer, a shell).

use std::fs::OpenOptions;
use std::io::Write;

/// One kernel log record at level crit, shown despite `quiet`.
pub fn mark(text: &str) {
    if let Ok(mut kmsg) = OpenOptions::new().write(true).open("/dev/kmsg") {
        let _ = kmsg.write_all(format!("<2>{text}\n").as_bytes());
    }
}
