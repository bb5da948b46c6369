//! The zfs kernel module, built by DKMS once per kernel and zfs version.
//!
//! mmdebstrap installs zfs-dkms with DKMS's autoinstall switched off; then
//! the package's own postinst step runs here. When a module for the same
//! kernel and zfs version was built before (by any profile's base layer),
//! DKMS's binary tarball is handed to that step, which loads it instead of
//! compiling: the mechanism DKMS offers for prebuilt modules.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use hearth_system::mounts::{chroot, Binds};
use hearth_system::runner::Runner;

use crate::signing::BuildKey;

/// The file whose presence stops DKMS building during the bootstrap.
pub const HOLD: &str = "etc/dkms/no-autoinstall";

/// mmdebstrap hook that holds DKMS until `build_or_load` runs.
pub fn hold_hook() -> String {
    format!("--setup-hook=mkdir -p \"$1/etc/dkms\" && touch \"$1/{HOLD}\"")
}

pub struct ModuleCache {
    dir: PathBuf,
    /// The key DKMS signs with; modules signed by another key are cached
    /// apart, so a module is never loaded with a signature the image's
    /// certificate does not match.
    key: Option<BuildKey>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Built,
    Loaded,
}

impl ModuleCache {
    pub fn new(dir: PathBuf) -> ModuleCache {
        ModuleCache { dir, key: None }
    }

    /// Modules signed with `key`, in a folder of the cache named by its
    /// certificate's fingerprint.
    pub fn signed(dir: PathBuf, key: BuildKey) -> Result<ModuleCache> {
        let fingerprint = key.fingerprint()?;
        Ok(ModuleCache {
            dir: dir.join(&fingerprint[..16]),
            key: Some(key),
        })
    }

    /// The key the modules are signed with, if any.
    pub fn key(&self) -> Option<&BuildKey> {
        self.key.as_ref()
    }

    /// Where the tarball for this kernel and zfs version lives.
    pub fn tarball(&self, kernel: &str, version: &str) -> PathBuf {
        self.dir.join(kernel).join(tarball_name(version))
    }

    /// Builds the module in `root` for `kernel`, or loads the cached one.
    pub fn build_or_load(&self, root: &Path, kernel: &str, runner: &Runner) -> Result<Outcome> {
        let version = dkms_version(root)?;
        let cached = self.tarball(kernel, &version);
        let share = root.join("usr/share/zfs-dkms");
        let handed = share.join(tarball_name(&version));
        let outcome = if cached.is_file() {
            fs::create_dir_all(&share)?;
            fs::copy(&cached, &handed).context("handing the cached zfs module to DKMS")?;
            runner.note(&format!(
                "zfs module: loading {} (kernel {kernel}, zfs {version})",
                cached.display()
            ));
            Outcome::Loaded
        } else {
            runner.note(&format!(
                "zfs module: none cached for kernel {kernel} and zfs {version}; building"
            ));
            Outcome::Built
        };
        fs::remove_file(root.join(HOLD)).context("releasing DKMS")?;
        self.lend_key(root)?;
        let mut binds = Binds::new(root, runner)?;
        let result = self.postinst(root, kernel, &version, outcome, runner);
        binds.close()?;
        let _ = fs::remove_file(&handed);
        hearth_system::dkms::forget_signing_key(root);
        result?;
        self.check_signer(root, kernel, runner)?;
        Ok(outcome)
    }

    fn lend_key(&self, root: &Path) -> Result<()> {
        match &self.key {
            Some(key) => key.lend_to_dkms(root),
            None => Ok(()),
        }
    }

    /// Refuses an image whose zfs module the build key did not sign.
    fn check_signer(&self, root: &Path, kernel: &str, runner: &Runner) -> Result<()> {
        let Some(key) = &self.key else {
            return Ok(());
        };
        let want = key.signer(runner)?;
        for module in ["zfs", "spl"] {
            let got = chroot(
                runner,
                root,
                &["modinfo", "-k", kernel, "-F", "signer", module],
            )?;
            if got.trim() != want {
                bail!(
                    "the {module} module is signed by {:?}, not the build key ({want})",
                    got.trim()
                );
            }
        }
        Ok(())
    }

    fn postinst(
        &self,
        root: &Path,
        kernel: &str,
        version: &str,
        outcome: Outcome,
        runner: &Runner,
    ) -> Result<()> {
        // The same call zfs-dkms's postinst makes.
        chroot(
            runner,
            root,
            &[
                "/usr/lib/dkms/common.postinst",
                "zfs",
                version,
                "/usr/share/zfs-dkms",
                "",
                "",
            ],
        )?;
        let status = dkms(runner, root, "status", (kernel, version), &[])?;
        if !status.contains(": installed") {
            bail!("DKMS did not install zfs {version} for {kernel}: {status}");
        }
        if outcome == Outcome::Built {
            self.keep_tarball(root, kernel, version, runner)?;
        }
        Ok(())
    }
}

/// What the module's own chroot needs: the kernel's headers and zfs-dkms
/// with its build tools, from the base's archives.
pub struct Prebuild<'a> {
    pub suite: &'a str,
    pub archives: Vec<String>,
    /// The base's download cache, only read: the base writes it back.
    pub apt_cache: &'a Path,
}

impl ModuleCache {
    /// Builds the module in a chroot of its own at `work`, so the compile
    /// (most of a cold build on two cores) runs while the base's packages
    /// download and install; the base then loads the tarball left in the
    /// cache. Nothing is compiled when the cache has it already. The
    /// caller removes `work`.
    pub fn prebuild(&self, request: &Prebuild, work: &Path, runner: &Runner) -> Result<()> {
        // With a module built before, the base most likely loads it: a
        // second bootstrap would only slow the first down.
        if self.holds_any() {
            return Ok(());
        }
        self.prebuild_in(request, work, runner)
    }

    fn holds_any(&self) -> bool {
        fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .any(|kernel| fs::read_dir(kernel.path()).is_ok_and(|mut d| d.next().is_some()))
    }

    fn prebuild_in(&self, request: &Prebuild, root: &Path, runner: &Runner) -> Result<()> {
        let cache = request.apt_cache.display().to_string();
        let mut args: Vec<String> = [
            "--mode=root",
            "--variant=minbase",
            "--components=main,contrib,non-free-firmware",
            "--aptopt=Apt::Install-Recommends \"false\"",
            "--include=linux-headers-amd64,zfs-dkms",
            // The headers depend on the kernel image, whose modules and
            // initramfs only the base needs: 50 s against 34 s without.
            "--dpkgopt=path-exclude=/usr/lib/modules/*/kernel/*",
            // DKMS compresses zfs.ko as it finds the kernel's own modules
            // (.ko.xz): one small folder of them stays for it to find.
            "--dpkgopt=path-include=/usr/lib/modules/*/kernel/mm/*",
            "--dpkgopt=path-exclude=/etc/kernel/postinst.d/initramfs-tools",
            crate::rootfs::UNSAFE_IO,
            "--setup-hook=mkdir -p \"$1\"/var/cache/apt/archives/",
        ]
        .map(String::from)
        .to_vec();
        args.push(format!(
            "--setup-hook=sync-in {cache} /var/cache/apt/archives/"
        ));
        args.push(hold_hook());
        args.extend([request.suite.to_string(), root.display().to_string()]);
        args.extend(request.archives.iter().cloned());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        runner.run("mmdebstrap", &args)?;
        let kernel = one_kernel(root)?;
        let version = dkms_version(root)?;
        if self.tarball(&kernel, &version).is_file() {
            return Ok(());
        }
        self.lend_key(root)?;
        configure_without_btf(root, &version)?;
        let mut binds = Binds::new(root, runner)?;
        let built = self.build_tarball(root, &kernel, &version, runner);
        binds.close()?;
        built
    }

    fn build_tarball(
        &self,
        root: &Path,
        kernel: &str,
        version: &str,
        runner: &Runner,
    ) -> Result<()> {
        for action in ["add", "build"] {
            dkms(runner, root, action, (kernel, version), &[])?;
        }
        self.keep_tarball(root, kernel, version, runner)
    }

    /// `dkms mktarball` of the built module, moved into the cache whole.
    fn keep_tarball(
        &self,
        root: &Path,
        kernel: &str,
        version: &str,
        runner: &Runner,
    ) -> Result<()> {
        let inside = format!("/tmp/{}", tarball_name(version));
        let archive = ["--archive", inside.as_str()];
        dkms(runner, root, "mktarball", (kernel, version), &archive)?;
        let made = root.join(inside.trim_start_matches('/'));
        let cached = self.tarball(kernel, version);
        fs::create_dir_all(cached.parent().unwrap_or(&self.dir))?;
        let partial = cached.with_extension("partial");
        fs::copy(&made, &partial)?;
        fs::rename(&partial, &cached)?;
        fs::remove_file(&made)?;
        Ok(())
    }
}

/// Run by DKMS as zfs's PRE_BUILD in the module chroot (see the script).
const WITHOUT_BTF: &str = include_str!("../dkms/configure-without-btf");
const WITHOUT_BTF_AT: &str = "usr/local/lib/hearth/configure-without-btf";

/// zfs's configure compiles a few hundred test modules, and kbuild runs
/// pahole on each while the headers hold `vmlinux`: 153 s against 130 s
/// without, the same zfs_config.h. Only in the throwaway module chroot:
/// DKMS reads /etc/dkms/zfs-VERSION.conf after zfs's dkms.conf, and runs
/// PRE_BUILD from /var/lib/dkms/zfs/VERSION/build.
fn configure_without_btf(root: &Path, version: &str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let script = root.join(WITHOUT_BTF_AT);
    fs::create_dir_all(script.parent().unwrap_or(root))?;
    fs::write(&script, WITHOUT_BTF)?;
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755))?;
    let conf = root.join(format!("etc/dkms/zfs-{version}.conf"));
    fs::create_dir_all(conf.parent().unwrap_or(root))?;
    fs::write(
        conf,
        format!("PRE_BUILD=\"../../../../../../{WITHOUT_BTF_AT} $PRE_BUILD\"\n"),
    )?;
    Ok(())
}

/// The one kernel under `root` (its modules, or only its headers).
pub fn one_kernel(root: &Path) -> Result<String> {
    let found: Vec<String> = fs::read_dir(root.join("usr/lib/modules"))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    match found.as_slice() {
        [one] => Ok(one.clone()),
        _ => bail!(
            "expected one kernel in {}/usr/lib/modules, found: {}",
            root.display(),
            found.join(", ")
        ),
    }
}

/// `dkms ACTION -m zfs -v VERSION -k KERNEL EXTRA...` in the chroot at `root`.
fn dkms(
    runner: &Runner,
    root: &Path,
    action: &str,
    (kernel, version): (&str, &str),
    extra: &[&str],
) -> Result<String> {
    let mut args = vec!["dkms", action, "-m", "zfs", "-v", version, "-k", kernel];
    args.extend(extra);
    chroot(runner, root, &args)
}

fn tarball_name(version: &str) -> String {
    format!("zfs-{version}.dkms.tar.gz")
}

/// The DKMS version of the zfs source the package unpacked (/usr/src/zfs-V).
pub fn dkms_version(root: &Path) -> Result<String> {
    let src = root.join("usr/src");
    let mut found: Vec<String> = fs::read_dir(&src)
        .with_context(|| format!("reading {}", src.display()))?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            let version = name.strip_prefix("zfs-")?.to_string();
            e.path().join("dkms.conf").is_file().then_some(version)
        })
        .collect();
    found.sort();
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => bail!("zfs-dkms left no source in {}", src.display()),
        many => bail!("more than one zfs source in the image: {}", many.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_comes_from_the_source_folder_with_a_dkms_conf() {
        let root = std::env::temp_dir().join(format!("hearth-zfs-src-{}", std::process::id()));
        let src = root.join("usr/src");
        fs::create_dir_all(src.join("zfs-2.3.9")).expect("test files");
        fs::write(src.join("zfs-2.3.9/dkms.conf"), "PACKAGE_NAME=zfs\n").expect("test files");
        fs::create_dir_all(src.join("linux-headers-6.12.117+deb13-amd64")).expect("test files");
        assert_eq!(dkms_version(&root).expect("test files"), "2.3.9");
        fs::create_dir_all(src.join("zfs-2.4.0")).expect("test files");
        fs::write(src.join("zfs-2.4.0/dkms.conf"), "").expect("test files");
        let err = dkms_version(&root).expect_err("two versions").to_string();
        fs::remove_dir_all(&root).expect("test files");
        assert!(err.contains("2.3.9, 2.4.0"), "{err}");
    }

    #[test]
    fn a_cache_with_any_module_skips_the_prebuild() {
        let dir = std::env::temp_dir().join(format!("hearth-zfs-mods-{}", std::process::id()));
        let cache = ModuleCache::new(dir.clone());
        let before = cache.holds_any();
        fs::create_dir_all(dir.join("6.12.1-amd64")).expect("test files");
        let empty_kernel = cache.holds_any();
        fs::write(cache.tarball("6.12.1-amd64", "2.3.9"), "").expect("test files");
        let after = cache.holds_any();
        fs::remove_dir_all(&dir).expect("test files");
        assert_eq!((before, empty_kernel, after), (false, false, true));
    }

    /// The script itself, run as DKMS runs it: from the build folder, the
    /// configure script and its arguments after it.
    #[test]
    fn configure_runs_with_vmlinux_hidden_and_gets_it_back() {
        let root = std::env::temp_dir().join(format!("hearth-zfs-btf-{}", std::process::id()));
        let (build, headers) = (root.join("build"), root.join("headers"));
        fs::create_dir_all(&build).expect("test files");
        fs::create_dir_all(&headers).expect("test files");
        fs::write(headers.join("vmlinux"), "btf").expect("test files");
        configure_without_btf(&root, "2.3.9").expect("writing the hook");
        let conf = fs::read_to_string(root.join("etc/dkms/zfs-2.3.9.conf")).expect("conf");
        let seen = build.join("seen");
        // A configure that records whether vmlinux was there, and its arguments.
        let configure = format!(
            "#!/bin/sh\nls {} > {}\necho \"$@\" >> {}\nexit 3\n",
            headers.display(),
            seen.display(),
            seen.display()
        );
        fs::write(build.join("configure"), configure).expect("test files");
        let mode = std::os::unix::fs::PermissionsExt::from_mode(0o755);
        fs::set_permissions(build.join("configure"), mode).expect("test files");
        let with_obj = format!("--with-linux-obj={}", headers.display());
        let status = std::process::Command::new(root.join(WITHOUT_BTF_AT))
            .args(["configure", "--prefix=/usr", &with_obj])
            .current_dir(&build)
            .status()
            .expect("running the script");
        let seen = fs::read_to_string(&seen).expect("configure ran");
        let back = fs::read_to_string(headers.join("vmlinux"));
        fs::remove_dir_all(&root).expect("test files");
        assert!(conf.contains(&format!("../../../../../../{WITHOUT_BTF_AT} $PRE_BUILD")));
        assert_eq!(seen, format!("vmlinux.hidden\n--prefix=/usr {with_obj}\n"));
        assert_eq!(status.code(), Some(3), "configure's status is the script's");
        assert_eq!(back.ok().as_deref(), Some("btf"));
    }

    #[test]
    fn tarballs_are_keyed_by_kernel_and_version() {
        let cache = ModuleCache::new(PathBuf::from("/c"));
        assert_eq!(
            cache.tarball("6.12.117+deb13-amd64", "2.3.9"),
            PathBuf::from("/c/6.12.117+deb13-amd64/zfs-2.3.9.dkms.tar.gz")
        );
    }
}
