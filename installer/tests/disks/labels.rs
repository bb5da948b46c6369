//! A real pool label, recorded from OpenZFS's ztest, read back.

use std::fs::OpenOptions;
use std::io::Write;

use hearth_installer::inventory::zfs_label;

use crate::support::{put_pool_labels, Scratch, MIB};

#[test]
fn reads_the_pool_name_guid_and_state() {
    let scratch = Scratch::new("label");
    let image = scratch.image("ztest.img", 64 * MIB);
    put_pool_labels(&image, 0, 64 * MIB);
    let label = zfs_label::read(&image).expect("a label");
    assert_eq!(label.name.as_deref(), Some("ztest"));
    assert_eq!(label.pool_guid, Some(16818164753301514748));
    assert_eq!(label.state_name(), Some("active"));
    assert_eq!(label.hostname.as_deref(), Some("vm"));

    // Labels 0 and 1 gone (a half-done wipe): the ones at the end still tell.
    let mut file = OpenOptions::new().write(true).open(&image).expect("open");
    file.write_all(&vec![0u8; MIB as usize / 2])
        .expect("zero the front");
    drop(file);
    let label = zfs_label::read(&image).expect("a label at the end");
    assert_eq!(label.name.as_deref(), Some("ztest"));
}

#[test]
fn zeroes_are_no_label() {
    assert_eq!(zfs_label::parse(&[0u8; 4096]), None);
}
