//! The recovery kit: the kept state, the plan, the answer and the profile
//! in one file, a tar archive encrypted with a passphrase in the age format
//! (age-encryption.org/v1, scrypt). The `age` crate is the format's
//! reference implementation in Rust, maintained with its specification, and
//! a kit opens without Hearth too: `age -d kit.age | tar -t`.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use age::secrecy::SecretString;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::tree::{self, Entry, Manifest};

/// What the kit says of itself, first in the archive.
pub const INFO: &str = "kit.json";
/// About a second of scrypt on a current machine; a slow one (a live
/// system under emulation) still opens it, as the cap is well above.
const WORK_FACTOR: u8 = 18;
const MAX_WORK_FACTOR: u8 = 22;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Info {
    pub format: u32,
    pub hostname: String,
    pub fqdn: String,
    pub profile: String,
    pub made_at: u64,
    pub made_by: String,
}

/// An opened kit: what it says, its manifest and every file's content.
#[derive(Debug)]
pub struct Kit {
    pub info: Info,
    pub manifest: Manifest,
    pub files: BTreeMap<PathBuf, Vec<u8>>,
}

impl Kit {
    /// A file's content, checked against the manifest.
    pub fn content(&self, entry: &Entry) -> Result<Vec<u8>> {
        let bytes = self.files.get(&entry.path).with_context(|| {
            format!(
                "the kit lists {} but does not hold it",
                entry.path.display()
            )
        })?;
        if entry.sha256.as_deref() != Some(hearth_system::files::sha256(bytes).as_str()) {
            anyhow::bail!(
                "{} in the kit does not match its SHA-256: the kit is damaged",
                entry.path.display()
            );
        }
        Ok(bytes.clone())
    }
}

/// Writes the kit of `collected` into `out`, encrypted with `passphrase`.
pub fn write(
    out: impl Write,
    info: &Info,
    manifest: &Manifest,
    collected: &[(Entry, Vec<u8>)],
    passphrase: &str,
) -> Result<()> {
    let mut recipient = age::scrypt::Recipient::new(SecretString::from(passphrase.to_string()));
    recipient.set_work_factor(WORK_FACTOR);
    let encryptor = age::Encryptor::with_recipients(std::iter::once(&recipient as _))
        .context("setting up the kit's encryption")?;
    let sealed = encryptor.wrap_output(out)?;
    let mut archive = tar::Builder::new(sealed);
    append(&mut archive, INFO, &serde_json::to_vec_pretty(info)?)?;
    append(
        &mut archive,
        tree::MANIFEST,
        &serde_json::to_vec_pretty(manifest)?,
    )?;
    for (entry, bytes) in collected.iter().filter(|(e, _)| !e.dir) {
        let name = tree::stored(Path::new(""), &entry.path);
        append(&mut archive, &name.display().to_string(), bytes)?;
    }
    let sealed = archive.into_inner()?;
    sealed.finish()?.flush()?;
    Ok(())
}

fn append<W: Write>(archive: &mut tar::Builder<W>, name: &str, bytes: &[u8]) -> Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o600);
    header.set_mtime(crate::runner::epoch_seconds());
    header.set_cksum();
    archive
        .append_data(&mut header, name, bytes)
        .with_context(|| format!("adding {name} to the kit"))
}

/// Opens a kit with its passphrase: a wrong one, or a file that is not a
/// kit, is said so plainly.
pub fn open(input: impl Read, passphrase: &str) -> Result<Kit> {
    let decryptor = age::Decryptor::new(input)
        .map_err(|e| anyhow::anyhow!("this is not a Hearth recovery kit (not an age file: {e})"))?;
    if !decryptor.is_scrypt() {
        anyhow::bail!("this age file is not sealed with a passphrase: not a Hearth recovery kit");
    }
    let mut identity = age::scrypt::Identity::new(SecretString::from(passphrase.to_string()));
    identity.set_max_work_factor(MAX_WORK_FACTOR);
    let reader = decryptor
        .decrypt(std::iter::once(&identity as &dyn age::Identity))
        .map_err(|e| match e {
            age::DecryptError::DecryptionFailed | age::DecryptError::NoMatchingKeys => anyhow::anyhow!(
                "the passphrase does not open this recovery kit: type it again, as it was given to `hearth recovery-kit`"
            ),
            other => anyhow::anyhow!("the recovery kit does not open: {other}"),
        })?;
    let mut files = BTreeMap::new();
    let mut info = None;
    let mut manifest = None;
    for item in tar::Archive::new(reader).entries()? {
        let mut item = item.context("reading the recovery kit (damaged?)")?;
        let name = item.path()?.to_path_buf();
        let mut bytes = Vec::new();
        item.read_to_end(&mut bytes)?;
        match name.to_str() {
            Some(INFO) => {
                info = Some(serde_json::from_slice(&bytes).context("the kit's kit.json")?)
            }
            Some(tree::MANIFEST) => {
                manifest = Some(serde_json::from_slice(&bytes).context("the kit's manifest.json")?)
            }
            _ => {
                if let Ok(inside) = name.strip_prefix(tree::FILES) {
                    files.insert(Path::new("/").join(inside), bytes);
                }
            }
        }
    }
    Ok(Kit {
        info: info.context("the kit has no kit.json: not a Hearth recovery kit")?,
        manifest: manifest.context("the kit has no manifest.json")?,
        files,
    })
}
