//! The environments: datasets right below `<pool>/ROOT`, the one running,
//! their snapshots, and the kernel each boots.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::runner::Runner;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Env {
    pub name: String,
    /// Seconds since the epoch.
    pub created: u64,
    pub used: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// dataset@name
    pub full: String,
    pub created: u64,
    /// Environments cloned from it: it cannot go before them.
    pub has_clones: bool,
}

/// Letters, digits, dot, dash and underscore: a dataset name, a GRUB id
/// and a folder on FAT alike.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with(['.', '-'])
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

pub fn check_name(name: &str) -> Result<()> {
    if !valid_name(name) {
        bail!("{name:?} is not an environment name: 1 to 64 letters, digits, '.', '-' or '_', not starting with '.' or '-'");
    }
    Ok(())
}

/// Every environment of `pool`, newest first.
pub fn list(pool: &str, runner: &Runner) -> Result<Vec<Env>> {
    let root = format!("{pool}/ROOT");
    let out = runner.query(
        "zfs",
        &[
            "list",
            "-H",
            "-p",
            "-o",
            "name,creation,used",
            "-d",
            "1",
            "-t",
            "filesystem",
            &root,
        ],
    )?;
    let mut envs = parse_list(&root, &out.1);
    envs.sort_by(|a, b| b.created.cmp(&a.created).then(b.name.cmp(&a.name)));
    Ok(envs)
}

fn parse_list(root: &str, text: &str) -> Vec<Env> {
    let prefix = format!("{root}/");
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split('\t');
            let name = fields.next()?.strip_prefix(&prefix)?.to_string();
            let created = fields.next()?.parse().ok()?;
            let used = fields.next()?.parse().ok()?;
            Some(Env {
                name,
                created,
                used,
            })
        })
        .collect()
}

/// A new environment from `snapshot`: never mounted by itself, / once booted.
pub fn clone(snapshot: &str, dataset: &str, runner: &Runner) -> Result<()> {
    runner.run(
        "zfs",
        &[
            "clone",
            "-o",
            "canmount=noauto",
            "-o",
            "mountpoint=/",
            snapshot,
            dataset,
        ],
    )?;
    Ok(())
}

/// Snapshots of one environment, oldest first.
pub fn snapshots(dataset: &str, runner: &Runner) -> Result<Vec<Snapshot>> {
    let (_, out) = runner.query(
        "zfs",
        &[
            "list",
            "-H",
            "-p",
            "-o",
            "name,creation,clones",
            "-t",
            "snapshot",
            "-d",
            "1",
            dataset,
        ],
    )?;
    let mut snaps: Vec<Snapshot> = out
        .lines()
        .filter_map(|line| {
            let mut fields = line.split('\t');
            let full = fields.next()?.to_string();
            let created = fields.next()?.parse().ok()?;
            let clones = fields.next().unwrap_or("-");
            Some(Snapshot {
                full,
                created,
                has_clones: !clones.is_empty() && clones != "-",
            })
        })
        .collect();
    snaps.sort_by_key(|s| s.created);
    Ok(snaps)
}

/// The dataset mounted at / (as this process sees it, so inside a chroot
/// the chroot's).
pub fn running_dataset() -> Result<String> {
    let text =
        fs::read_to_string("/proc/self/mountinfo").context("reading /proc/self/mountinfo")?;
    root_of(&text).context("/ is not a ZFS dataset")
}

/// The environment running, when / is `<pool>/ROOT/<name>`.
pub fn running(pool: &str) -> Result<String> {
    let dataset = running_dataset()?;
    match dataset.strip_prefix(&format!("{pool}/ROOT/")) {
        Some(name) if !name.contains('/') => Ok(name.to_string()),
        _ => bail!("/ is {dataset}, not a boot environment of {pool}"),
    }
}

/// The source of the last zfs mount at "/" in a mountinfo table.
pub fn root_of(mountinfo: &str) -> Option<String> {
    mountinfo.lines().rev().find_map(|line| {
        let (mount, fs) = line.split_once(" - ")?;
        let point = mount.split(' ').nth(4)?;
        let mut fs = fs.split(' ');
        let (kind, source) = (fs.next()?, fs.next()?);
        (point == "/" && kind == "zfs").then(|| source.to_string())
    })
}

/// This process runs in a chroot (the installer's, or an upgrade's).
pub fn in_chroot() -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::metadata("/proc/1/root"), fs::metadata("/")) {
        (Ok(init), Ok(ours)) => (init.dev(), init.ino()) != (ours.dev(), ours.ino()),
        _ => false,
    }
}

/// The newest kernel under `root`/boot and its initrd.
pub fn kernel(root: &Path) -> Result<(PathBuf, PathBuf)> {
    let boot = root.join("boot");
    let mut versions: Vec<String> = fs::read_dir(&boot)
        .with_context(|| format!("reading {}", boot.display()))?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            name.strip_prefix("vmlinuz-").map(String::from)
        })
        .filter(|v| boot.join(format!("initrd.img-{v}")).exists())
        .collect();
    versions.sort_by(|a, b| version_cmp(a, b));
    let Some(version) = versions.pop() else {
        bail!("no kernel with an initrd in {}", boot.display())
    };
    Ok((
        boot.join(format!("vmlinuz-{version}")),
        boot.join(format!("initrd.img-{version}")),
    ))
}

/// Kernel versions compared as dpkg would for these: runs of digits as
/// numbers, the rest as text ("6.12.9" < "6.12.10").
pub fn version_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let split = |s: &str| -> Vec<(bool, String)> {
        let mut parts: Vec<(bool, String)> = Vec::new();
        for c in s.chars() {
            let digit = c.is_ascii_digit();
            match parts.last_mut() {
                Some((d, text)) if *d == digit => text.push(c),
                _ => parts.push((digit, c.to_string())),
            }
        }
        parts
    };
    let key = |(digit, text): &(bool, String)| -> (u64, String) {
        match digit {
            true => (text.parse().unwrap_or(u64::MAX), String::new()),
            false => (0, text.clone()),
        }
    };
    split(a).iter().map(key).cmp(split(b).iter().map(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_safe_for_zfs_grub_and_fat() {
        assert!(valid_name("hearth-20261204-1"));
        assert!(valid_name("before_kernel.6.12"));
        for bad in ["", "-x", ".x", "a b", "a/b", "a\"b", "a;b", "ä"] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn the_root_is_the_last_zfs_mount_at_slash() {
        let table = "22 1 0:21 / / rw,relatime shared:1 - zfs rpool/ROOT/hearth rw,xattr\n\
            40 22 0:30 / /home rw shared:2 - zfs rpool/home rw\n\
            90 22 0:40 / / rw shared:9 - zfs rpool/ROOT/hearth-2 rw\n";
        assert_eq!(root_of(table).as_deref(), Some("rpool/ROOT/hearth-2"));
        assert_eq!(root_of("22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"), None);
    }

    #[test]
    fn the_list_skips_the_parent_and_deeper_datasets() {
        let text = "rpool/ROOT\t100\t3\nrpool/ROOT/hearth\t200\t5\nrpool/ROOT/hearth-2\t300\t7\n";
        let envs = parse_list("rpool/ROOT", text);
        let names: Vec<&str> = envs.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["hearth", "hearth-2"]);
    }

    #[test]
    fn kernel_versions_sort_by_number() {
        let mut v = vec!["6.12.10-amd64", "6.12.9-amd64", "6.1.0-28-amd64"];
        v.sort_by(|a, b| version_cmp(a, b));
        assert_eq!(v, ["6.1.0-28-amd64", "6.12.9-amd64", "6.12.10-amd64"]);
    }
}
