//! A real pool label, recorded from OpenZFS's ztest, read back.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use hearth::inventory::zfs_label;

const IMAGE_SIZE: u64 = 64 * 1024 * 1024;
const HALF: usize = 512 * 1024;

/// Rebuilds the 64 MiB vdev file from its recorded labels.
pub fn ztest_vdev(dir: &Path) -> PathBuf {
    let packed = fs::read("tests/fixtures/zfs/ztest-labels.zst").expect("fixture");
    let mut labels = Vec::new();
    ruzstd::decoding::StreamingDecoder::new(packed.as_slice())
        .expect("zstd stream")
        .read_to_end(&mut labels)
        .expect("decompress");
    assert_eq!(labels.len(), 2 * HALF);
    let path = dir.join("ztest.img");
    let mut file = fs::File::create(&path).expect("create image");
    file.set_len(IMAGE_SIZE).expect("sparse size");
    file.write_all(&labels[..HALF]).expect("front labels");
    use std::io::Seek;
    file.seek(std::io::SeekFrom::Start(IMAGE_SIZE - HALF as u64))
        .expect("seek");
    file.write_all(&labels[HALF..]).expect("back labels");
    path
}

#[test]
fn reads_the_pool_name_guid_and_state() {
    let dir = std::env::temp_dir().join(format!("hearth-label-{}", std::process::id()));
    fs::create_dir_all(&dir).expect("temp dir");
    let image = ztest_vdev(&dir);
    let label = zfs_label::read(&image).expect("a label");
    assert_eq!(label.name.as_deref(), Some("ztest"));
    assert_eq!(label.pool_guid, Some(16818164753301514748));
    assert_eq!(label.state_name(), Some("active"));
    assert_eq!(label.hostname.as_deref(), Some("vm"));

    // Labels 0 and 1 gone (a half-done wipe): the ones at the end still tell.
    let mut file = fs::OpenOptions::new()
        .write(true)
        .open(&image)
        .expect("open");
    file.write_all(&vec![0u8; HALF]).expect("zero the front");
    drop(file);
    let label = zfs_label::read(&image).expect("a label at the end");
    assert_eq!(label.name.as_deref(), Some("ztest"));
    fs::remove_dir_all(&dir).ok();
}

#[test]
fn zeroes_are_no_label() {
    assert_eq!(zfs_label::parse(&[0u8; 4096]), None);
}
