//! What first-boot tasks share: the outcome each reports, and small
//! helpers. Each task looks before it acts, so a second run changes nothing.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Result;
use base64::Engine;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Changed(String),
    Unchanged,
    /// Only the admin can go on (why, and what to run); the service's
    /// later steps wait, the others go ahead.
    NeedsAdmin(String),
    NotBuilt,
}

/// Unchanged when a task found everything in place, else what it did.
pub fn outcome(changed: Vec<String>) -> Outcome {
    if changed.is_empty() {
        Outcome::Unchanged
    } else {
        Outcome::Changed(changed.join(", "))
    }
}

pub fn under(root: &Path, path: &Path) -> PathBuf {
    root.join(path.strip_prefix("/").unwrap_or(path))
}

pub fn secret_file(path: &Path) -> Result<Outcome> {
    if path.is_file() {
        return Ok(Outcome::Unchanged);
    }
    let bytes = crate::runner::random_bytes::<32>()?;
    // URL-safe: a rest-server password goes into a repository URL.
    let text = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    write_private(path, &format!("{text}\n"))?;
    Ok(Outcome::Changed(format!("{} (mode 0600)", path.display())))
}

/// Written with mode 0600 before the secret goes in.
pub fn write_private(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    hearth_system::files::write_mode(path, text.as_bytes(), 0o600)
}
