//! A disk or disk image opened for reading or writing, with its size and
//! logical sector size.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::size::MIB;

pub struct Device {
    pub path: PathBuf,
    pub file: File,
    pub size: u64,
    pub sector: u64,
    pub is_block: bool,
}

impl Device {
    /// Opens read-only: looking never changes a disk.
    pub fn open_read(path: &Path, planned_sector: u64) -> Result<Device> {
        let file =
            File::open(path).with_context(|| format!("opening {} to read", path.display()))?;
        Device::new(path, file, planned_sector)
    }

    /// Opens for writing. A block device is opened exclusively, so one that
    /// is mounted or held by md, LVM or a pool is refused by the kernel.
    pub fn open_write(path: &Path, planned_sector: u64) -> Result<Device> {
        let mut options = OpenOptions::new();
        options.read(true).write(true);
        if is_block(path) {
            options.custom_flags(libc::O_EXCL);
        }
        let file = options.open(path).map_err(|err| {
            let busy = err.raw_os_error() == Some(libc::EBUSY);
            let why = if busy {
                "it is in use (mounted, or part of an md array, LVM or an imported pool)"
                    .to_string()
            } else {
                err.to_string()
            };
            anyhow::anyhow!("cannot open {} for writing: {why}", path.display())
        })?;
        Device::new(path, file, planned_sector)
    }

    fn new(path: &Path, mut file: File, planned_sector: u64) -> Result<Device> {
        let size = file
            .seek(SeekFrom::End(0))
            .with_context(|| format!("finding the size of {}", path.display()))?;
        let block = is_block(path);
        let sector = match block.then(|| kernel_sector_size(path)).flatten() {
            Some(kernel) if kernel != planned_sector => {
                bail!(
                    "{} has {kernel}-byte sectors but the plan was made for {planned_sector}",
                    path.display()
                )
            }
            Some(kernel) => kernel,
            None => planned_sector,
        };
        Ok(Device {
            path: path.to_path_buf(),
            file,
            size,
            sector,
            is_block: block,
        })
    }

    pub fn read_at(&mut self, offset: u64, len: usize) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; len];
        self.file.seek(SeekFrom::Start(offset))?;
        self.file
            .read_exact(&mut buf)
            .with_context(|| format!("reading {} at {offset}", self.path.display()))?;
        Ok(buf)
    }

    /// Writes zeroes over [offset, offset + len), clipped to the device.
    pub fn zero(&mut self, offset: u64, len: u64) -> Result<()> {
        let end = (offset + len).min(self.size);
        if offset >= end {
            return Ok(());
        }
        let chunk = vec![0u8; MIB as usize];
        self.file.seek(SeekFrom::Start(offset))?;
        let mut at = offset;
        while at < end {
            let n = (end - at).min(MIB) as usize;
            self.file
                .write_all(&chunk[..n])
                .with_context(|| format!("zeroing {} at {at}", self.path.display()))?;
            at += n as u64;
        }
        Ok(())
    }

    pub fn sync(&mut self) -> Result<()> {
        self.file.flush()?;
        self.file
            .sync_all()
            .with_context(|| format!("syncing {}", self.path.display()))
    }
}

pub fn is_block(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.file_type().is_block_device())
}

/// The sector size the kernel uses for a block device (e.g. 4096 for a 4Kn
/// disk or `losetup --sector-size 4096`).
fn kernel_sector_size(path: &Path) -> Option<u64> {
    let real = fs::canonicalize(path).ok()?;
    let name = real.file_name()?.to_str()?;
    let text =
        fs::read_to_string(format!("/sys/class/block/{name}/queue/logical_block_size")).ok()?;
    text.trim().parse().ok()
}
