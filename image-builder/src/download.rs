//! Downloads that do not come through apt (a repository key, a template or
//! an image a profile lists): pinned by SHA-256, kept in the cache under
//! their hash, resumed where a broken transfer stopped, with progress.

use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::blocking::Client;
use reqwest::header::RANGE;
use reqwest::StatusCode;

use crate::cache::hash_file;

#[derive(Debug, Clone)]
pub struct Download {
    pub url: String,
    pub sha256: String,
}

/// The verified file, from the cache or freshly fetched.
pub fn fetch(dir: &Path, download: &Download) -> Result<PathBuf> {
    fs::create_dir_all(dir)?;
    let done = dir.join(&download.sha256);
    if done.is_file() && hash_file(&done)? == download.sha256 {
        return Ok(done);
    }
    let part = dir.join(format!("{}.part", download.sha256));
    let have = fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
    let client = Client::builder().build()?;
    let mut request = client.get(&download.url);
    if have > 0 {
        request = request.header(RANGE, format!("bytes={have}-"));
    }
    let mut response = request
        .send()
        .with_context(|| format!("fetching {}", download.url))?;
    let resumed = match response.status() {
        StatusCode::PARTIAL_CONTENT => true,
        StatusCode::OK => false,
        StatusCode::RANGE_NOT_SATISFIABLE => true,
        status => bail!("fetching {}: the server answered {status}", download.url),
    };
    let mut file = OpenOptions::new()
        .create(true)
        .write(true)
        .append(resumed)
        .truncate(!resumed)
        .open(&part)?;
    let start = if resumed { have } else { 0 };
    let bar = ProgressBar::new(response.content_length().map_or(0, |n| n + start));
    bar.set_style(
        ProgressStyle::with_template("{msg} {bar:30} {bytes}/{total_bytes}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(download.url.clone());
    bar.set_position(start);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = response
            .read(&mut buf)
            .with_context(|| format!("reading {}", download.url))?;
        if n == 0 {
            break;
        }
        file.write_all(&buf[..n])?;
        bar.inc(n as u64);
    }
    file.sync_all()?;
    bar.finish_and_clear();
    let got = hash_file(&part)?;
    if got != download.sha256 {
        fs::remove_file(&part)?;
        bail!(
            "{}: SHA-256 is {got}, the pinned one is {}; the file was not kept",
            download.url,
            download.sha256
        );
    }
    fs::rename(&part, &done)?;
    Ok(done)
}
