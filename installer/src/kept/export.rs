//! `hearth recovery-kit`: the server's kit written off the server.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::kit::{self, Info};
use super::tree::{self, Manifest};
use crate::plan::Plan;
use crate::runner::Runner;

/// When the last kit was made; first boot reminds the admin while it is missing.
pub const RECORD: &str = "/var/lib/hearth/recovery-kit.json";

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Record {
    pub made_at: u64,
    pub file: String,
    pub sha256: String,
}

/// The passphrase: asked twice on a terminal, else the first line of stdin.
pub fn passphrase() -> Result<String> {
    let text = crate::interactive::typed_twice("Passphrase for the recovery kit")?;
    if let Some(why) = crate::password::too_weak(&text) {
        anyhow::bail!("passphrase refused: {why}");
    }
    Ok(text)
}

/// Writes the kit of the system at `root` to `out` (a new file, 0600) and
/// says what it holds and where to keep it.
pub fn export(
    plan: &Plan,
    root: &Path,
    out: &Path,
    passphrase: &str,
    runner: &Runner,
) -> Result<String> {
    let collected = tree::collect(root, &plan.state.kept)?;
    let manifest = Manifest {
        hostname: plan.hostname.clone(),
        pools: super::keep::pool_guids(plan, runner),
        kept_at: crate::runner::epoch_seconds(),
        entries: collected.iter().map(|(e, _)| e.clone()).collect(),
    };
    let info = Info {
        format: 1,
        hostname: plan.hostname.clone(),
        fqdn: plan.fqdn.clone(),
        profile: plan.profile.clone(),
        made_at: manifest.kept_at,
        made_by: format!("hearth {}", env!("CARGO_PKG_VERSION")),
    };
    let file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .with_context(|| {
            format!(
                "creating {} (an existing file is never overwritten)",
                out.display()
            )
        })?;
    let mut buffered = std::io::BufWriter::new(file);
    kit::write(&mut buffered, &info, &manifest, &collected, passphrase)?;
    buffered.flush()?;
    let sha256 = hearth_system::files::sha256_file(out)?;
    let record = Record {
        made_at: info.made_at,
        file: out.display().to_string(),
        sha256: sha256.clone(),
    };
    let record_path = crate::services::first_boot::under(root, Path::new(RECORD));
    if let Some(dir) = record_path.parent() {
        fs::create_dir_all(dir)?;
    }
    fs::write(&record_path, serde_json::to_string_pretty(&record)? + "\n")?;
    Ok(summary(plan, out, &sha256, &collected))
}

fn summary(plan: &Plan, out: &Path, sha256: &str, collected: &[(tree::Entry, Vec<u8>)]) -> String {
    let mut text = format!(
        "wrote the recovery kit of {} to {} (SHA-256 {sha256}), encrypted with your passphrase (age, scrypt). It holds:\n",
        plan.fqdn,
        out.display()
    );
    for (what, items) in crate::services::kept::by_what(&plan.state.kept) {
        let files = collected
            .iter()
            .filter(|(e, _)| !e.dir && items.iter().any(|k| e.path.starts_with(&k.path)))
            .count();
        if files > 0 {
            text.push_str(&format!("  {what}: {files} file(s)\n"));
        }
    }
    text.push_str(
        "Keep it OFF this server (a USB stick in a drawer, a password manager, another site), and the passphrase apart from it.\n\
         With both, a new install brings this server back onto blank disks: in its answer, recovery-kit = \"<file or URL>\".\n\
         Make a new kit when keys or peers change; it opens without Hearth too: age -d FILE | tar -t\n",
    );
    text
}
