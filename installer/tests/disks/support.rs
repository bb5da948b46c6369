//! Scratch images, loop devices, the recorded ZFS labels, and planning for
//! a made-up machine whose disks are those images.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use hearth_installer::inventory::{Disk, Inventory};
use hearth_installer::plan::Plan;
use hearth_installer::prepare::plan_from_files;
use hearth_installer::size::Bytes;
use sha2::{Digest, Sha256};

pub const GIB: u64 = 1024 * 1024 * 1024;
pub const MIB: u64 = 1024 * 1024;

/// A temporary folder, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("hearth-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }

    pub fn image(&self, name: &str, size: u64) -> PathBuf {
        let path = self.0.join(name);
        File::create(&path)
            .and_then(|f| f.set_len(size))
            .expect("sparse image");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// An attached loop device, detached when dropped.
pub struct Loop(pub PathBuf);

impl Loop {
    pub fn attach(image: &Path, sector: u64) -> Loop {
        Loop::setup(image, &["--sector-size", &sector.to_string()])
    }

    /// A loop over a byte range of an image (one partition).
    pub fn range(image: &Path, offset: u64, size: u64) -> Loop {
        Loop::setup(
            image,
            &[
                "--offset",
                &offset.to_string(),
                "--sizelimit",
                &size.to_string(),
            ],
        )
    }

    fn setup(image: &Path, options: &[&str]) -> Loop {
        let out = Command::new("losetup")
            .args(["--find", "--show"])
            .args(options)
            .arg(image)
            .output()
            .expect("losetup");
        assert!(
            out.status.success(),
            "losetup: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Loop(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").arg("-d").arg(&self.0).status();
    }
}

/// Whether loop devices can be used here; says why not when they cannot.
pub fn can_use_loops() -> bool {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !root {
        eprintln!("skipped: loop-device tests need root (CI runs them as root)");
        return false;
    }
    if !Path::new("/dev/loop-control").exists() {
        eprintln!("skipped: no /dev/loop-control on this machine");
        return false;
    }
    true
}

/// The first and last 512 KiB of a real ztest vdev (see fixtures/zfs/README.md).
pub fn ztest_labels() -> Vec<u8> {
    let packed = fs::read("tests/fixtures/zfs/ztest-labels.zst").expect("fixture");
    let mut labels = Vec::new();
    ruzstd::decoding::StreamingDecoder::new(packed.as_slice())
        .expect("zstd stream")
        .read_to_end(&mut labels)
        .expect("decompress");
    assert_eq!(labels.len() as u64, MIB);
    labels
}

/// Writes the recorded labels at both ends of [offset, offset + len) of a file or device.
pub fn put_pool_labels(target: &Path, offset: u64, len: u64) {
    let labels = ztest_labels();
    let half = labels.len() / 2;
    let end = offset + len - len % (256 * 1024);
    let mut file = OpenOptions::new()
        .write(true)
        .open(target)
        .expect("open for labels");
    file.seek(SeekFrom::Start(offset)).expect("seek");
    file.write_all(&labels[..half]).expect("front labels");
    file.seek(SeekFrom::Start(end - half as u64)).expect("seek");
    file.write_all(&labels[half..]).expect("back labels");
    file.sync_all().expect("sync");
}

pub fn sha256(path: &Path) -> String {
    let mut file = File::open(path).expect("open to hash");
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 4 * MIB as usize];
    loop {
        let n = file.read(&mut buf).expect("read to hash");
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    format!("{:x}", hasher.finalize())
}

/// Runs a tool; returns (success, stdout + stderr).
pub fn tool(program: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// A disk record for an image file or device, as `hearth disks` would make it.
pub fn disk(path: &Path, size: u64, sector: u32) -> Disk {
    Disk::blank(path, Bytes(size), sector)
}

/// Plans `profile` (a path) with an answer given as text.
pub fn plan(
    scratch: &Scratch,
    profile: &str,
    answer: &str,
    disks: Vec<Disk>,
) -> Result<Plan, String> {
    let answer_path = scratch.0.join("answer.toml");
    fs::write(&answer_path, answer).expect("answer file");
    plan_from_files(Path::new(profile), Some(&answer_path), &Inventory { disks })
        .map_err(|p| p.to_string())
}
