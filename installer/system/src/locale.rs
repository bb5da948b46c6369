//! Locales generated in a system tree: the image builder makes the
//! profile's own once, the install only one that an answer changed.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};

use crate::mounts::chroot;
use crate::runner::Runner;

/// The SUPPORTED line (`en_US.UTF-8 UTF-8`) for a locale.
pub fn supported_entry(supported: &Path, locale: &str) -> Result<String> {
    let text = fs::read_to_string(supported)
        .with_context(|| format!("reading {}", supported.display()))?;
    let wanted = locale.replace("utf8", "UTF-8");
    text.lines()
        .find(|line| line.split_whitespace().next() == Some(wanted.as_str()))
        .map(str::to_string)
        .with_context(|| format!("locale {locale} is not in {}", supported.display()))
}

/// The SUPPORTED line of `locale` in the system at `root`; None for a C
/// locale, which is built into the C library and needs no generating.
pub fn entry_for(root: &Path, locale: &str) -> Result<Option<String>> {
    if locale.starts_with("C.") {
        return Ok(None);
    }
    supported_entry(&root.join("usr/share/i18n/SUPPORTED"), locale).map(Some)
}

/// Generates the locale of SUPPORTED line `entry` in the system at `root`,
/// unless that system's locale.gen already names it alone and its archive
/// exists: the image builder made it.
pub fn generate(entry: &str, root: &Path, runner: &Runner) -> Result<()> {
    let gen = root.join("etc/locale.gen");
    let wanted = format!("{entry}\n");
    let made = fs::read_to_string(&gen).is_ok_and(|t| t == wanted)
        && root.join("usr/lib/locale/locale-archive").is_file();
    if made {
        runner.note(&format!("locale {entry}: made with the image"));
        return Ok(());
    }
    fs::write(&gen, wanted)?;
    chroot(runner, root, &["locale-gen"]).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(name: &str) -> std::path::PathBuf {
        let root =
            std::env::temp_dir().join(format!("hearth-locale-{name}-{}", std::process::id()));
        fs::create_dir_all(root.join("etc")).expect("test tree");
        fs::create_dir_all(root.join("usr/lib/locale")).expect("test tree");
        root
    }

    #[test]
    fn a_locale_the_image_made_is_not_made_again() {
        let root = tree("made");
        fs::write(root.join("etc/locale.gen"), "en_US.UTF-8 UTF-8\n").expect("test tree");
        fs::write(root.join("usr/lib/locale/locale-archive"), "").expect("test tree");
        let runner = Runner::new(None, true).expect("runner");
        generate("en_US.UTF-8 UTF-8", &root, &runner).expect("nothing to do");
        assert!(runner.recorded().is_empty(), "{:?}", runner.recorded());
        generate("nl_BE.UTF-8 UTF-8", &root, &runner).expect("a dry run");
        assert_eq!(runner.recorded().len(), 1, "another locale is generated");
        let gen = fs::read_to_string(root.join("etc/locale.gen")).expect("written");
        fs::remove_dir_all(&root).expect("test tree");
        assert_eq!(gen, "nl_BE.UTF-8 UTF-8\n");
    }

    #[test]
    fn entries_come_from_supported_with_utf8_spelt_as_debian_does() {
        let root = tree("supported");
        let supported = root.join("SUPPORTED");
        fs::write(
            &supported,
            "en_GB.UTF-8 UTF-8\nen_US.UTF-8 UTF-8\nen_US ISO-8859-1\n",
        )
        .expect("test tree");
        let entry = supported_entry(&supported, "en_US.utf8").expect("found");
        let missing = supported_entry(&supported, "xx_YY.UTF-8");
        fs::remove_dir_all(&root).expect("test tree");
        assert_eq!(entry, "en_US.UTF-8 UTF-8");
        assert!(missing.is_err());
        let c = entry_for(Path::new("/nonexistent"), "C.UTF-8").expect("no file read");
        assert_eq!(c, None, "C.UTF-8 is built in");
    }
}
