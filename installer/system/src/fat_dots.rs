//! fatfs 0.3.6 writes long-name entries before "." and ".." in every
//! directory it creates (rust-fatfs issue #117, fixed upstream but not
//! released), so fsck.fat and strict firmware see broken directories. This
//! walks the FAT32 tree after fatfs is done and moves "." and ".." back to
//! the first two slots, marking the stray long-name slots deleted.

use std::io::{self, Read, Seek, SeekFrom, Write};

const ENTRY: usize = 32;
const ATTR_LFN: u8 = 0x0F;
const ATTR_DIR: u8 = 0x10;
const DELETED: u8 = 0xE5;
const DOT: &[u8; 11] = b".          ";
const DOTDOT: &[u8; 11] = b"..         ";

struct Fat32 {
    bytes_per_sector: u64,
    cluster_size: u64,
    fat_start: u64,
    data_start: u64,
    root: u32,
}

impl Fat32 {
    fn read<T: Read + Seek>(disk: &mut T) -> io::Result<Fat32> {
        let mut bpb = [0u8; 512];
        disk.seek(SeekFrom::Start(0))?;
        disk.read_exact(&mut bpb)?;
        let u16_at = |i: usize| u64::from(u16::from_le_bytes([bpb[i], bpb[i + 1]]));
        let u32_at = |i: usize| u32::from_le_bytes([bpb[i], bpb[i + 1], bpb[i + 2], bpb[i + 3]]);
        let bytes_per_sector = u16_at(11);
        let reserved = u16_at(14);
        let fat_size = u64::from(u32_at(36));
        let fats = u64::from(bpb[16]);
        if bytes_per_sector == 0 || fat_size == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "not a FAT32 volume",
            ));
        }
        Ok(Fat32 {
            bytes_per_sector,
            cluster_size: u64::from(bpb[13]) * bytes_per_sector,
            fat_start: reserved * bytes_per_sector,
            data_start: (reserved + fats * fat_size) * bytes_per_sector,
            root: u32_at(44),
        })
    }

    fn offset(&self, cluster: u32) -> u64 {
        self.data_start + u64::from(cluster - 2) * self.cluster_size
    }

    fn next<T: Read + Seek>(&self, disk: &mut T, cluster: u32) -> io::Result<Option<u32>> {
        let mut entry = [0u8; 4];
        disk.seek(SeekFrom::Start(self.fat_start + u64::from(cluster) * 4))?;
        disk.read_exact(&mut entry)?;
        let next = u32::from_le_bytes(entry) & 0x0FFF_FFFF;
        Ok((2..0x0FFF_FFF8).contains(&next).then_some(next))
    }

    /// Every cluster of a directory, in order.
    fn chain<T: Read + Seek>(&self, disk: &mut T, first: u32) -> io::Result<Vec<u32>> {
        let mut clusters = vec![first];
        let limit = (self.bytes_per_sector * 8) as usize;
        while let Some(next) = self.next(disk, clusters[clusters.len() - 1])? {
            if clusters.len() > limit || clusters.contains(&next) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "looping cluster chain",
                ));
            }
            clusters.push(next);
        }
        Ok(clusters)
    }
}

/// Repairs every directory below the root; returns how many it fixed.
pub fn fix<T: Read + Write + Seek>(disk: &mut T) -> io::Result<usize> {
    let fat = Fat32::read(disk)?;
    let mut fixed = 0;
    let mut pending = vec![fat.root];
    while let Some(dir) = pending.pop() {
        for cluster in fat.chain(disk, dir)? {
            let mut data = vec![0u8; fat.cluster_size as usize];
            disk.seek(SeekFrom::Start(fat.offset(cluster)))?;
            disk.read_exact(&mut data)?;
            for entry in data.chunks(ENTRY) {
                if entry[0] == 0 {
                    break;
                }
                let name = &entry[..11];
                let is_child =
                    entry[0] != DELETED && entry[11] & ATTR_DIR != 0 && entry[11] != ATTR_LFN;
                if is_child && name != DOT && name != DOTDOT {
                    let hi = u32::from(u16::from_le_bytes([entry[20], entry[21]]));
                    let lo = u32::from(u16::from_le_bytes([entry[26], entry[27]]));
                    let first = (hi << 16) | lo;
                    fixed += usize::from(fix_dir(&fat, disk, first)?);
                    pending.push(first);
                }
            }
        }
    }
    disk.flush()?;
    Ok(fixed)
}

fn fix_dir<T: Read + Write + Seek>(fat: &Fat32, disk: &mut T, cluster: u32) -> io::Result<bool> {
    let mut head = [0u8; 4 * ENTRY];
    disk.seek(SeekFrom::Start(fat.offset(cluster)))?;
    disk.read_exact(&mut head)?;
    let slot = |i: usize| &head[i * ENTRY..(i + 1) * ENTRY];
    let broken = slot(0)[11] == ATTR_LFN
        && &slot(1)[..11] == DOT
        && slot(2)[11] == ATTR_LFN
        && &slot(3)[..11] == DOTDOT;
    if !broken {
        return Ok(false);
    }
    let mut repaired = [0u8; 4 * ENTRY];
    repaired[..ENTRY].copy_from_slice(slot(1));
    repaired[ENTRY..2 * ENTRY].copy_from_slice(slot(3));
    // ".." of a directory in the root names cluster 0, not the root's cluster.
    let parent = u32::from(u16::from_le_bytes([
        repaired[ENTRY + 26],
        repaired[ENTRY + 27],
    ])) | (u32::from(u16::from_le_bytes([
        repaired[ENTRY + 20],
        repaired[ENTRY + 21],
    ])) << 16);
    if parent == fat.root {
        for i in [20, 21, 26, 27] {
            repaired[ENTRY + i] = 0;
        }
    }
    repaired[2 * ENTRY] = DELETED;
    repaired[3 * ENTRY] = DELETED;
    disk.seek(SeekFrom::Start(fat.offset(cluster)))?;
    disk.write_all(&repaired)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    #[test]
    fn moves_dot_entries_to_the_front() {
        let mut disk = Cursor::new(vec![0u8; 40 << 20]);
        let options = fatfs::FormatVolumeOptions::new()
            .fat_type(fatfs::FatType::Fat32)
            .bytes_per_cluster(512);
        fatfs::format_volume(&mut disk, options).expect("format");
        disk.set_position(0);
        {
            let fs = fatfs::FileSystem::new(&mut disk, fatfs::FsOptions::new()).expect("mount");
            {
                let efi = fs.root_dir().create_dir("EFI").expect("EFI");
                efi.create_dir("BOOT").expect("BOOT");
            }
            fs.unmount().expect("unmount");
        }
        assert_eq!(fix(&mut disk).expect("fix"), 2, "EFI and EFI/BOOT repaired");
        assert_eq!(
            fix(&mut disk).expect("fix again"),
            0,
            "nothing left to repair"
        );
        disk.set_position(0);
        let fs = fatfs::FileSystem::new(&mut disk, fatfs::FsOptions::new()).expect("mount");
        let names: Vec<String> = fs
            .root_dir()
            .open_dir("EFI")
            .expect("EFI")
            .iter()
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, [".", "..", "BOOT"]);
    }
}
