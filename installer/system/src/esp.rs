//! EFI System Partitions: FAT32 written with fatfs straight into the
//! partition's byte range, and files copied into it.

use std::fs;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use anyhow::{bail, Context, Result};
use fatfs::{FatType, FileSystem, FormatVolumeOptions, FsOptions};

use crate::device::Device;

pub const LABEL: [u8; 11] = *b"HEARTH_ESP ";

/// A window onto part of a device, so fatfs sees the partition as its disk.
pub struct Slice<'a> {
    device: &'a mut Device,
    start: u64,
    len: u64,
    pos: u64,
}

impl<'a> Slice<'a> {
    pub fn new(device: &'a mut Device, start: u64, len: u64) -> Self {
        Slice {
            device,
            start,
            len,
            pos: 0,
        }
    }
}

impl Read for Slice<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (self.len.saturating_sub(self.pos) as usize).min(buf.len());
        self.device
            .file
            .seek(SeekFrom::Start(self.start + self.pos))?;
        let read = self.device.file.read(&mut buf[..n])?;
        self.pos += read as u64;
        Ok(read)
    }
}

impl Write for Slice<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = (self.len.saturating_sub(self.pos) as usize).min(buf.len());
        if n == 0 && !buf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "write past the end of the partition",
            ));
        }
        self.device
            .file
            .seek(SeekFrom::Start(self.start + self.pos))?;
        let written = self.device.file.write(&buf[..n])?;
        self.pos += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.device.file.flush()
    }
}

impl Seek for Slice<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let next = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        match next {
            Some(n) if n <= self.len => {
                self.pos = n;
                Ok(n)
            }
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek outside the partition",
            )),
        }
    }
}

/// Formats FAT32 over a byte range; `cluster` forces the cluster size (small
/// volumes need 512-byte clusters to have the clusters FAT32 requires).
pub fn format_range(
    device: &mut Device,
    start: u64,
    len: u64,
    volume_id: u32,
    cluster: Option<u32>,
) -> Result<()> {
    let sector = u16::try_from(device.sector).context("sector size")?;
    let path = device.path.clone();
    let mut options = FormatVolumeOptions::new()
        .fat_type(FatType::Fat32)
        .bytes_per_sector(sector)
        .volume_label(LABEL)
        .volume_id(volume_id);
    if let Some(bytes) = cluster {
        options = options.bytes_per_cluster(bytes);
    }
    fatfs::format_volume(Slice::new(device, start, len), options)
        .with_context(|| format!("formatting FAT32 on {}", path.display()))?;
    // format_volume leaves the FSInfo free count unknown; counting once
    // records it, so fsck.fat finds nothing to remark on.
    let fs = FileSystem::new(Slice::new(device, start, len), FsOptions::new())
        .with_context(|| format!("opening the new FAT32 on {}", path.display()))?;
    fs.stats()?;
    fs.unmount()
        .with_context(|| format!("closing the new FAT32 on {}", path.display()))
}

/// Copies a folder's files into the FAT32 over a byte range (directories
/// made as needed, existing files replaced).
pub fn copy_tree_range(device: &mut Device, start: u64, len: u64, source: &Path) -> Result<()> {
    let path = device.path.clone();
    let fs = FileSystem::new(Slice::new(device, start, len), FsOptions::new())
        .with_context(|| format!("opening the FAT32 on {}", path.display()))?;
    copy_dir(&fs.root_dir(), source)?;
    fs.unmount()
        .with_context(|| format!("closing the FAT32 on {}", path.display()))?;
    crate::fat_dots::fix(&mut Slice::new(device, start, len))
        .with_context(|| format!("repairing directories on the FAT32 of {}", path.display()))?;
    Ok(())
}

/// A FAT32 image file holding `source` (the ISO's EFI boot image).
pub fn make_image(path: &Path, source: &Path, volume_id: u32) -> Result<()> {
    let content: u64 = walk_size(source);
    // FAT32 needs 65525 clusters: 512-byte clusters and at least 34 MiB.
    let size = (content * 2).max(34 << 20).next_multiple_of(1 << 20);
    fs::File::create(path)
        .and_then(|f| f.set_len(size))
        .with_context(|| format!("creating {}", path.display()))?;
    let mut device = Device::open_write(path, 512)?;
    format_range(&mut device, 0, size, volume_id, Some(512))?;
    copy_tree_range(&mut device, 0, size, source)?;
    device.sync()
}

fn walk_size(path: &Path) -> u64 {
    match fs::metadata(path) {
        Ok(m) if m.is_dir() => fs::read_dir(path)
            .map(|es| es.flatten().map(|e| walk_size(&e.path())).sum())
            .unwrap_or(0),
        Ok(m) => m.len(),
        Err(_) => 0,
    }
}

fn copy_dir<T: fatfs::ReadWriteSeek>(dir: &fatfs::Dir<'_, T>, source: &Path) -> Result<()> {
    let mut entries: Vec<_> = fs::read_dir(source)
        .with_context(|| format!("reading {}", source.display()))?
        .collect::<std::io::Result<_>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            bail!("{} is not a UTF-8 name", entry.path().display())
        };
        let kind = entry.file_type()?;
        if kind.is_dir() {
            let sub = dir
                .create_dir(name)
                .with_context(|| format!("creating {name} on the ESP"))?;
            copy_dir(&sub, &entry.path())?;
        } else if kind.is_file() {
            let data = fs::read(entry.path())
                .with_context(|| format!("reading {}", entry.path().display()))?;
            let mut file = dir
                .create_file(name)
                .with_context(|| format!("creating {name} on the ESP"))?;
            file.truncate()?;
            file.write_all(&data)
                .with_context(|| format!("writing {name} on the ESP"))?;
        }
    }
    Ok(())
}
