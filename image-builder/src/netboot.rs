//! `build --netboot`: the same live system booted over the network. The
//! folder holds the medium as on the ISO (live/, hearth/), SHA256SUMS and
//! an iPXE script; the live initrd carries a live-boot component that, given
//! `fetch=<folder URL>/`, downloads the medium into RAM and checks it.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use hearth_system::cpio::{self, Entry};

use crate::cache::hash_file;
use crate::iso::Graft;

/// Where live-boot sources its components in the initrd.
const COMPONENT: &str = "usr/lib/live/boot/9995-hearth-netboot";
const SCRIPT: &str = include_str!("../initramfs/9995-hearth-netboot");
pub const IPXE: &str = "hearth.ipxe";

/// The live initrd: the base's, with the netboot component appended.
pub fn live_initrd(base: &Path, out: &Path) -> Result<()> {
    fs::copy(base, out).with_context(|| format!("copying {}", base.display()))?;
    cpio::append(
        out,
        &[Entry {
            path: COMPONENT,
            data: Some(SCRIPT.as_bytes()),
        }],
    )
}

/// Writes the folder `dir` from the ISO's grafts under live/ and hearth/.
pub fn write(dir: &Path, grafts: &[Graft], profile: &str, url: &str) -> Result<()> {
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir)?;
    let mut files = Vec::new();
    for graft in grafts.iter().filter(|g| in_medium(&g.target)) {
        let to = dir.join(&graft.target);
        fs::create_dir_all(to.parent().unwrap_or(dir))?;
        // Layers are large: a hard link where the cache is on the same filesystem.
        if fs::hard_link(&graft.source, &to).is_err() {
            fs::copy(&graft.source, &to)
                .with_context(|| format!("copying {}", graft.source.display()))?;
        }
        files.push(graft.target.clone());
    }
    files.sort();
    let mut sums = String::new();
    for file in &files {
        sums.push_str(&format!("{}  {file}\n", hash_file(&dir.join(file))?));
    }
    fs::write(dir.join("SHA256SUMS"), &sums)?;
    let pin = hearth_system::files::sha256(sums.as_bytes());
    fs::write(dir.join(IPXE), ipxe_script(profile, url, &pin))?;
    Ok(())
}

fn in_medium(target: &str) -> bool {
    target.starts_with("live/") || target.starts_with("hearth/")
}

/// `hearth-url` and `hearth-args` may be set before this script is chained
/// (the folder's URL; kernel arguments such as hearth.answer=).
pub fn ipxe_script(profile: &str, url: &str, sums_sha256: &str) -> String {
    let common = crate::boot::kernel_args(profile);
    format!(
        "#!ipxe\n\
         # Hearth {version}, profile {profile}: the live system from this folder.\n\
         isset ${{hearth-url}} || set hearth-url {url}\n\
         kernel ${{hearth-url}}live/vmlinuz initrd=initrd.img {common} fetch=${{hearth-url}} hearth.fetch-sha256={sums_sha256} ${{hearth-args}}\n\
         initrd ${{hearth-url}}live/initrd.img\n\
         boot\n",
        version = env!("CARGO_PKG_VERSION"),
    )
}

/// The folder's URL goes into the iPXE script's `set` line and the kernel
/// command line: an http(s) URL of a folder (ending in `/`), one word of
/// printable characters without quotes or backslashes; `${setting}` of
/// iPXE's own may be in it.
pub fn check_url(url: &str) -> Result<()> {
    let scheme = url.starts_with("http://") || url.starts_with("https://");
    let word = url
        .chars()
        .all(|c| c.is_ascii_graphic() && !"\"'\\`;".contains(c));
    if !scheme || !url.ends_with('/') || !word {
        anyhow::bail!(
            "--netboot-url {url:?}: allowed: an http:// or https:// URL of a folder, ending in /, without spaces, quotes, backslashes or ;"
        );
    }
    Ok(())
}

/// The folder's default URL when the build names none: the TFTP/DHCP
/// server's own web server.
pub fn default_url(profile: &str) -> String {
    format!("http://${{next-server}}/hearth/{profile}/")
}

/// Where `build --netboot` writes the folder.
pub fn folder(out: &Path, profile: &str) -> PathBuf {
    out.join(format!(
        "hearth-{profile}-{}-netboot",
        env!("CARGO_PKG_VERSION")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_boots_the_iso_kernel_with_the_folder_as_medium() {
        let script = ipxe_script("homelab", "http://10.0.2.2:8080/", &"a".repeat(64));
        assert!(script.starts_with("#!ipxe\n"));
        assert!(script.contains("isset ${hearth-url} || set hearth-url http://10.0.2.2:8080/\n"));
        assert!(script
            .contains("kernel ${hearth-url}live/vmlinuz initrd=initrd.img boot=live components"));
        assert!(script.contains(" fetch=${hearth-url} hearth.fetch-sha256=aaaa"));
        assert!(script.contains("hearth.profile=homelab"));
        assert!(script.contains("initrd ${hearth-url}live/initrd.img\nboot\n"));
    }

    #[test]
    fn the_folder_url_is_one_word_of_a_url() {
        assert!(check_url(&default_url("homelab")).is_ok());
        assert!(check_url("http://10.0.2.2:8080/hearth/").is_ok());
        assert!(check_url("http://x/ y/").is_err());
        assert!(check_url("http://x/\nshell\n/").is_err());
        assert!(check_url("http://x/hearth").is_err());
        assert!(check_url("ftp://x/").is_err());
    }

    #[test]
    fn the_component_replaces_live_boots_http_mount_and_keeps_the_original() {
        assert!(SCRIPT.contains("s/^do_httpmount ()/live_do_httpmount ()/"));
        assert!(SCRIPT.contains("live_do_httpmount; return"));
        let status = std::process::Command::new("sh")
            .args(["-n", "initramfs/9995-hearth-netboot"])
            .status();
        assert!(
            status.is_ok_and(|s| s.success()),
            "sh -n finds a syntax error"
        );
    }
}
