//! The kept state as files: what is collected from a system, how it lies
//! in a folder (a manifest and the files below `files/`), and how it is
//! put back into a system, owners by name so new uids do not matter.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::services::first_boot::under;
use crate::services::Kept;
use hearth_system::accounts;
use hearth_system::files::{sha256, write_mode};

pub const MANIFEST: &str = "manifest.json";
pub const FILES: &str = "files";

/// One file or folder of the kept state, as it was on the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Entry {
    pub path: PathBuf,
    pub dir: bool,
    pub mode: u32,
    pub owner: String,
    pub group: String,
    /// Of a file's content; none for a folder.
    pub sha256: Option<String>,
}

/// Whose server the state is, and what it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Manifest {
    pub hostname: String,
    /// Pool name to GUID, as `zpool get guid` says.
    pub pools: Vec<(String, String)>,
    pub kept_at: u64,
    pub entries: Vec<Entry>,
}

/// Every file and folder of `items` on the system at `root`, with its
/// content; what is not there yet (not made) is left out.
pub fn collect(root: &Path, items: &[Kept]) -> Result<Vec<(Entry, Vec<u8>)>> {
    let users = accounts::users(root);
    let groups = accounts::groups(root);
    let owner = |uid: u32| {
        let name = users.iter().find(|u| u.uid == uid).map(|u| u.name.clone());
        name.unwrap_or_else(|| uid.to_string())
    };
    let group = |gid: u32| {
        let name = groups.iter().find(|g| g.gid == gid).map(|g| g.name.clone());
        name.unwrap_or_else(|| gid.to_string())
    };
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = items.iter().map(|k| k.path.clone()).collect();
    stack.reverse();
    while let Some(path) = stack.pop() {
        let on_disk = under(root, &path);
        let Ok(meta) = fs::symlink_metadata(&on_disk) else {
            continue;
        };
        if meta.file_type().is_symlink() {
            continue;
        }
        let dir = meta.is_dir();
        let bytes = if dir {
            let mut names: Vec<PathBuf> = fs::read_dir(&on_disk)?
                .flatten()
                .map(|e| path.join(e.file_name()))
                .collect();
            names.sort();
            stack.extend(names.into_iter().rev());
            Vec::new()
        } else {
            fs::read(&on_disk).with_context(|| format!("reading {}", on_disk.display()))?
        };
        let entry = Entry {
            sha256: (!dir).then(|| sha256(&bytes)),
            path,
            dir,
            mode: meta.permissions().mode() & 0o7777,
            owner: owner(meta.uid()),
            group: group(meta.gid()),
        };
        out.push((entry, bytes));
    }
    Ok(out)
}

/// Where an entry's content lies in a kept folder.
pub fn stored(folder: &Path, path: &Path) -> PathBuf {
    under(&folder.join(FILES), path)
}

pub fn read_manifest(folder: &Path) -> Result<Option<Manifest>> {
    let path = folder.join(MANIFEST);
    match fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .with_context(|| format!("reading {}", path.display())),
        Err(_) => Ok(None),
    }
}

pub fn write_manifest(folder: &Path, manifest: &Manifest) -> Result<()> {
    let text = serde_json::to_string_pretty(manifest)? + "\n";
    write_mode(&folder.join(MANIFEST), text.as_bytes(), 0o600)
}

/// A kept file's content, checked against the manifest.
pub fn content(folder: &Path, entry: &Entry) -> Result<Vec<u8>> {
    let path = stored(folder, &entry.path);
    let bytes = fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    if entry.sha256.as_deref() != Some(sha256(&bytes).as_str()) {
        anyhow::bail!(
            "{} does not match its SHA-256 in the manifest: the kept state is damaged",
            path.display()
        );
    }
    Ok(bytes)
}

/// The item an entry belongs to, if the plan puts it back.
pub fn restored_by<'a>(items: &'a [Kept], path: &Path) -> Option<&'a Kept> {
    items
        .iter()
        .find(|k| k.restore && path.starts_with(&k.path))
}

/// Puts one entry into the system at `root`, with its mode and its owner
/// by name (root when the name is not there). Returns a note if the owner
/// was not found.
pub fn put(root: &Path, entry: &Entry, bytes: &[u8]) -> Result<Option<String>> {
    let dest = under(root, &entry.path);
    let (uid, gid, note) = ids(root, entry);
    if let Some(parent) = dest.parent() {
        make_parents(parent, uid, gid)?;
    }
    if entry.dir {
        fs::create_dir_all(&dest)?;
        fs::set_permissions(&dest, fs::Permissions::from_mode(entry.mode))?;
    } else {
        write_mode(&dest, bytes, entry.mode)?;
    }
    std::os::unix::fs::lchown(&dest, Some(uid), Some(gid))
        .with_context(|| format!("chown {}", dest.display()))?;
    Ok(note)
}

fn ids(root: &Path, entry: &Entry) -> (u32, u32, Option<String>) {
    let uid = accounts::user(root, &entry.owner).map(|u| u.uid);
    let gid = accounts::group(root, &entry.group).map(|g| g.gid);
    let note = (uid.is_none() || gid.is_none()).then(|| {
        format!(
            "{}: {}:{} is not on this system yet, owned by root until first boot makes it",
            entry.path.display(),
            entry.owner,
            entry.group
        )
    });
    (uid.unwrap_or(0), gid.unwrap_or(0), note)
}

/// Missing folders above a restored file belong to the file's owner (a
/// Syncthing folder in a user's home), mode 0755.
fn make_parents(dir: &Path, uid: u32, gid: u32) -> Result<()> {
    if dir.exists() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        make_parents(parent, uid, gid)?;
    }
    fs::create_dir(dir)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755))?;
    std::os::unix::fs::lchown(dir, Some(uid), Some(gid))?;
    Ok(())
}
