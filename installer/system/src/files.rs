//! Files and folders: a tree copied as it is, and SHA-256 digests.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

/// Copies a folder into another, keeping symlinks as symlinks (an overlay's
/// unit links and masks) and replacing what is there.
pub fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else if kind.is_symlink() {
            let _ = fs::remove_file(&target);
            std::os::unix::fs::symlink(fs::read_link(entry.path())?, &target)
                .with_context(|| format!("linking {}", target.display()))?;
        } else {
            fs::copy(entry.path(), &target)
                .with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// SHA-256 of a file, hex, read as a stream (ISOs and disk images are large).
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).with_context(|| format!("reading {}", path.display()))?;
    Ok(format!("{:x}", hasher.finalize()))
}

/// SHA-256 of bytes, hex.
pub fn sha256(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// Writes `bytes` to `path` with `mode` from the file's creation: a
/// private file is never readable by others, not even for a moment.
pub fn write_mode(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    // An existing file keeps its old mode through open(): set it first.
    file.set_permissions(std::fs::Permissions::from_mode(mode))?;
    file.write_all(bytes)
        .with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_is_copied_with_its_links_and_hashed_by_content() {
        let dir = std::env::temp_dir().join(format!("hearth-files-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("from/sub")).expect("dirs");
        fs::write(dir.join("from/sub/a.txt"), "abc").expect("file");
        std::os::unix::fs::symlink("/dev/null", dir.join("from/masked.service")).expect("link");
        copy_tree(&dir.join("from"), &dir.join("to")).expect("copy");
        let link = fs::read_link(dir.join("to/masked.service")).expect("still a link");
        assert_eq!(link, Path::new("/dev/null"));
        let digest = sha256_file(&dir.join("to/sub/a.txt")).expect("hash");
        assert_eq!(digest, sha256(b"abc"));
        assert!(digest.starts_with("ba7816bf"), "{digest}");
        fs::remove_dir_all(&dir).expect("cleanup");
    }
}
