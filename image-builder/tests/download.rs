//! Downloads from a local HTTP server: verified, cached, resumed, refused
//! when the hash is wrong.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use image_builder::download::{fetch, Download};
use sha2::{Digest, Sha256};

/// Serves `body`; the first `cut` responses stop halfway. Records each Range header.
fn serve(body: Vec<u8>, cut: usize) -> (String, Arc<Mutex<Vec<Option<String>>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/key.gpg", listener.local_addr().expect("addr"));
    let ranges = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&ranges);
    std::thread::spawn(move || {
        for (i, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut range = None;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("range: bytes=") {
                    range = Some(value.trim().trim_end_matches('-').to_string());
                }
            }
            seen.lock().expect("lock").push(range.clone());
            let from: usize = range.and_then(|r| r.parse().ok()).unwrap_or(0);
            let rest = &body[from..];
            let status = if from > 0 {
                "206 Partial Content"
            } else {
                "200 OK"
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                rest.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let send = if i < cut {
                &rest[..rest.len() / 2]
            } else {
                rest
            };
            let _ = stream.write_all(send);
        }
    });
    (url, ranges)
}

fn sha(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hearth-dl-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn verified_then_cached() {
    let body: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let (url, ranges) = serve(body.clone(), 0);
    let dir = scratch("cached");
    let download = Download {
        url,
        sha256: sha(&body),
    };
    let file = fetch(&dir, &download).expect("download");
    assert_eq!(std::fs::read(&file).expect("read"), body);
    fetch(&dir, &download).expect("from the cache");
    assert_eq!(
        ranges.lock().expect("lock").len(),
        1,
        "the second fetch used the cache"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_broken_transfer_resumes_where_it_stopped() {
    let body: Vec<u8> = (0..400_000u32).map(|i| (i % 253) as u8).collect();
    let (url, ranges) = serve(body.clone(), 1);
    let dir = scratch("resume");
    let download = Download {
        url,
        sha256: sha(&body),
    };
    let first = fetch(&dir, &download);
    assert!(first.is_err(), "half a file does not verify");
    let file = fetch(&dir, &download).expect("resumed download");
    assert_eq!(std::fs::read(&file).expect("read"), body);
    let ranges = ranges.lock().expect("lock").clone();
    assert_eq!(ranges.len(), 2);
    assert_eq!(
        ranges[1].as_deref(),
        Some("200000"),
        "the second request asked for the rest only"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_wrong_hash_is_refused_and_not_kept() {
    let body = b"not the key you pinned".to_vec();
    let (url, _) = serve(body, 0);
    let dir = scratch("wrong");
    let download = Download {
        url,
        sha256: sha(b"the real key"),
    };
    let err = format!("{:#}", fetch(&dir, &download).expect_err("refused"));
    assert!(
        err.contains("the pinned one is") && err.contains("not kept"),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(&dir).expect("dir").count(), 0);
    std::fs::remove_dir_all(dir).ok();
}
