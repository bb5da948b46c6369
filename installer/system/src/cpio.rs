//! A few files appended to an initrd as an uncompressed newc cpio: the
//! kernel unpacks concatenated archives in order, later files over earlier
//! ones, so a prebuilt initramfs gets this machine's /etc/hostid without
//! being rebuilt. The append starts 4-byte aligned (the kernel reads the
//! padding between archives in 4-byte steps).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

/// One entry: a path without a leading slash, and its bytes (None: a folder).
pub struct Entry<'a> {
    pub path: &'a str,
    pub data: Option<&'a [u8]>,
}

/// The newc archive of `entries`, with its trailer.
pub fn newc(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for (ino, entry) in entries.iter().enumerate() {
        let (mode, data): (u32, &[u8]) = match entry.data {
            Some(data) => (0o100644, data),
            None => (0o040755, &[]),
        };
        header(&mut out, ino as u32 + 1, mode, entry.path, data);
    }
    header(&mut out, 0, 0, "TRAILER!!!", &[]);
    out
}

fn header(out: &mut Vec<u8>, ino: u32, mode: u32, name: &str, data: &[u8]) {
    let nlink = if mode & 0o040000 != 0 { 2 } else { 1 };
    let fields = [
        ino,
        mode,
        0,
        0,
        nlink,
        0,
        data.len() as u32,
        0,
        0,
        0,
        0,
        name.len() as u32 + 1,
        0,
    ];
    out.extend_from_slice(b"070701");
    for field in fields {
        out.extend_from_slice(format!("{field:08x}").as_bytes());
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    pad(out);
    out.extend_from_slice(data);
    pad(out);
}

fn pad(out: &mut Vec<u8>) {
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

/// Appends `entries` to the initrd at `path`, zero-padded to 4 bytes first.
pub fn append(path: &Path, entries: &[Entry]) -> Result<()> {
    let len = std::fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .len();
    let mut file = OpenOptions::new()
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    let padding = vec![0u8; ((4 - len % 4) % 4) as usize];
    file.write_all(&padding)?;
    file.write_all(&newc(entries))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    fn hostid_archive(hostid: &[u8]) -> Vec<u8> {
        newc(&[
            Entry {
                path: "etc",
                data: None,
            },
            Entry {
                path: "etc/hostid",
                data: Some(hostid),
            },
        ])
    }

    #[test]
    fn headers_and_data_are_four_byte_aligned() {
        let archive = hostid_archive(&[1, 2, 3, 4]);
        assert_eq!(archive.len() % 4, 0);
        assert!(archive.starts_with(b"070701"));
        assert!(archive.windows(10).any(|w| w == b"TRAILER!!!"));
    }

    /// GNU cpio reads what we write, file and bytes alike.
    #[test]
    fn cpio_extracts_the_hostid() {
        if !crate::runner::on_path("cpio") {
            eprintln!("SKIP: cpio missing (.ci/run installs it)");
            return;
        }
        let dir = std::env::temp_dir().join(format!("hearth-cpio-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch");
        let archive = hostid_archive(&[0xde, 0xad, 0xbe, 0xef]);
        let mut child = Command::new("cpio")
            .args(["-i", "-d", "--quiet"])
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .spawn()
            .expect("cpio");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(&archive)
            .expect("feed cpio");
        assert!(child.wait().expect("cpio ends").success());
        let hostid = std::fs::read(dir.join("etc/hostid")).expect("extracted");
        assert_eq!(hostid, [0xde, 0xad, 0xbe, 0xef]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
