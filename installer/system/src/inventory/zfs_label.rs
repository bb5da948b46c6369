//! Reads a ZFS vdev label (the XDR-encoded nvlist 16 KiB into each of the
//! four 256 KiB labels) so that the inventory can say which pool a disk
//! belongs to and in what state, without the zfs module or tools.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

const LABEL_SIZE: u64 = 256 * 1024;
const NVLIST_OFFSET: usize = 16 * 1024;
const NVLIST_SIZE: usize = 112 * 1024;
const DATA_TYPE_UINT64: u32 = 8;
const DATA_TYPE_STRING: u32 = 9;

/// The top-level facts of a label.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Label {
    pub name: Option<String>,
    pub pool_guid: Option<u64>,
    pub state: Option<u64>,
    pub txg: Option<u64>,
    pub hostname: Option<String>,
}

impl Label {
    /// pool_state_t in words.
    pub fn state_name(&self) -> Option<&'static str> {
        Some(match self.state? {
            0 => "active",
            1 => "exported",
            2 => "destroyed",
            3 => "spare",
            4 => "l2cache",
            5 => "uninitialized",
            6 => "unavailable",
            7 => "potentially active",
            _ => "unknown",
        })
    }
}

/// The first readable label of the device or file (labels 0, 1, then the two
/// at the end), or None when none parses.
pub fn read(device: &Path) -> Option<Label> {
    let size = File::open(device).ok()?.seek(SeekFrom::End(0)).ok()?;
    read_range(device, 0, size)
}

/// The same for a vdev that occupies `len` bytes from `start` (a partition).
pub fn read_range(device: &Path, start: u64, len: u64) -> Option<Label> {
    let mut file = File::open(device).ok()?;
    let end = len - len % LABEL_SIZE;
    let offsets = [
        0,
        LABEL_SIZE,
        end.checked_sub(2 * LABEL_SIZE)?,
        end.checked_sub(LABEL_SIZE)?,
    ];
    offsets.into_iter().find_map(|offset| {
        let mut buf = vec![0u8; NVLIST_SIZE];
        file.seek(SeekFrom::Start(start + offset + NVLIST_OFFSET as u64))
            .ok()?;
        file.read_exact(&mut buf).ok()?;
        parse(&buf)
    })
}

/// Parses a packed nvlist: a 4-byte header (encoding 1 = XDR), version and
/// flags, then pairs, each led by its encoded size, ended by a zero size.
pub fn parse(buf: &[u8]) -> Option<Label> {
    if buf.first() != Some(&1) {
        return None;
    }
    let mut label = Label::default();
    let mut pos = 12;
    let mut found = false;
    loop {
        let size = be32(buf, pos)? as usize;
        if size == 0 {
            break;
        }
        let pair = buf.get(pos..pos.checked_add(size)?)?;
        let (name, rest) = xdr_string(pair, 8)?;
        let kind = be32(pair, rest)?;
        let value = rest + 8;
        match (name.as_str(), kind) {
            ("name", DATA_TYPE_STRING) => label.name = Some(xdr_string(pair, value)?.0),
            ("hostname", DATA_TYPE_STRING) => label.hostname = Some(xdr_string(pair, value)?.0),
            ("pool_guid", DATA_TYPE_UINT64) => label.pool_guid = Some(be64(pair, value)?),
            ("state", DATA_TYPE_UINT64) => label.state = Some(be64(pair, value)?),
            ("txg", DATA_TYPE_UINT64) => label.txg = Some(be64(pair, value)?),
            _ => {}
        }
        found = true;
        pos += size;
    }
    found.then_some(label)
}

fn be32(buf: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(buf.get(at..at + 4)?.try_into().ok()?))
}

fn be64(buf: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(buf.get(at..at + 8)?.try_into().ok()?))
}

/// An XDR string (length, bytes, padding to 4); returns it and the offset after it.
fn xdr_string(buf: &[u8], at: usize) -> Option<(String, usize)> {
    let len = be32(buf, at)? as usize;
    let bytes = buf.get(at + 4..at + 4 + len)?;
    let text = String::from_utf8_lossy(bytes)
        .trim_end_matches('\0')
        .to_string();
    Some((text, at + 4 + len.div_ceil(4) * 4))
}
