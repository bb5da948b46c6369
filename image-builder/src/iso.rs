//! The hybrid ISO: El Torito for BIOS (GRUB) and UEFI (the FAT image), an
//! MBR with GRUB's boot code and a GPT with the EFI partition appended, so
//! the same file boots as a CD and dd'ed to a USB stick. Files are grafted
//! from the cache, never copied.

use std::path::{Path, PathBuf};

use anyhow::Result;
use hearth_system::runner::Runner;

/// One file or folder of the ISO and where it comes from.
pub struct Graft {
    pub target: String,
    pub source: PathBuf,
}

impl Graft {
    pub fn new(target: &str, source: impl Into<PathBuf>) -> Graft {
        Graft {
            target: target.into(),
            source: source.into(),
        }
    }
}

/// Writes `out` from the grafts. `mbr` is GRUB's boot_hybrid.img; the ISO
/// must hold boot/grub/i386-pc/eltorito.img and efi.img.
pub fn write(
    out: &Path,
    volume: &str,
    mbr: &Path,
    grafts: &[Graft],
    runner: &Runner,
) -> Result<()> {
    let mut args: Vec<String> = [
        "-as",
        "mkisofs",
        "-graft-points",
        "-r",
        "-J",
        "-joliet-long",
        "-V",
        volume,
        "-b",
        "boot/grub/i386-pc/eltorito.img",
        "-no-emul-boot",
        "-boot-load-size",
        "4",
        "-boot-info-table",
        "--grub2-boot-info",
        "--grub2-mbr",
    ]
    .map(String::from)
    .to_vec();
    args.push(mbr.display().to_string());
    args.extend(
        [
            "--efi-boot",
            "efi.img",
            "-efi-boot-part",
            "--efi-boot-image",
            "--protective-msdos-label",
            "-o",
        ]
        .map(String::from),
    );
    args.push(out.display().to_string());
    for graft in grafts {
        args.push(format!("{}={}", graft.target, graft.source.display()));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    runner.run("xorriso", &args)?;
    Ok(())
}
