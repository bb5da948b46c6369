//! The build manifest: what went into an ISO, so a build can be audited
//! and reproduced; and SHA256SUMS for what a user downloads.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use anyhow::Result;
use serde::Serialize;

use crate::cache::hash_file;
use hearth_system::steps::StepTime;

#[derive(Debug, Serialize)]
pub struct Manifest {
    pub hearth: String,
    pub profile: String,
    pub iso: String,
    pub iso_sha256: String,
    pub iso_bytes: u64,
    pub suite: String,
    /// The apt sources the image was built from (one-line form).
    pub archives: Vec<String>,
    pub kernel: String,
    pub zfs: String,
    /// Every package in the image with its version.
    pub packages: BTreeMap<String, String>,
    /// Layer keys and input file hashes.
    pub inputs: BTreeMap<String, String>,
    /// Versions of the tools that built it.
    pub tools: BTreeMap<String, String>,
    pub steps: Vec<StepTime>,
}

/// `sha256  name` lines, as sha256sum -c reads them.
pub fn write_sums(dir: &Path, files: &[&Path]) -> Result<()> {
    let mut text = String::new();
    for file in files {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        text.push_str(&format!("{}  {name}\n", hash_file(file)?));
    }
    fs::write(dir.join("SHA256SUMS"), text)?;
    Ok(())
}
