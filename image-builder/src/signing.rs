//! The build's module-signing key. It signs the zfs and spl modules DKMS
//! builds for the image, so a machine with Secure Boot on loads them once
//! the certificate is enrolled as a Machine Owner Key. The key lives in the
//! build cache, made once per cache and never copied into an image; the
//! certificate goes on the ISO and on every ESP.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use hearth_system::runner::Runner;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone)]
pub struct BuildKey {
    dir: PathBuf,
}

impl BuildKey {
    /// The cache's key, made now if the cache has none.
    pub fn ensure(dir: &Path, runner: &Runner) -> Result<BuildKey> {
        let key = BuildKey {
            dir: dir.to_path_buf(),
        };
        if !key.key().is_file() || !key.cert().is_file() {
            key.generate(runner)?;
        }
        Ok(key)
    }

    /// The private key (PEM), for DKMS only.
    pub fn key(&self) -> PathBuf {
        self.dir.join("mok.key")
    }

    /// The certificate in DER, as DKMS, mokutil and MokManager take it.
    pub fn cert(&self) -> PathBuf {
        self.dir.join("mok.pub")
    }

    /// SHA-256 of the certificate: what a module built with it is keyed by.
    pub fn fingerprint(&self) -> Result<String> {
        let der = fs::read(self.cert()).context("reading the build certificate")?;
        Ok(format!("{:x}", Sha256::digest(der)))
    }

    /// The certificate's subject CN, which `modinfo -F signer` prints.
    pub fn signer(&self, runner: &Runner) -> Result<String> {
        let cert = self.cert().display().to_string();
        let subject = runner.run(
            "openssl",
            &[
                "x509",
                "-inform",
                "DER",
                "-in",
                &cert,
                "-noout",
                "-subject",
                "-nameopt",
                "multiline",
            ],
        )?;
        hearth_system::secure_boot::common_name(&subject).context("the build certificate has no CN")
    }

    fn generate(&self, runner: &Runner) -> Result<()> {
        fs::create_dir_all(&self.dir)?;
        fs::set_permissions(&self.dir, fs::Permissions::from_mode(0o700))?;
        let tag: String = hearth_system::runner::random_bytes::<4>()?
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let subject = format!("/CN=Hearth image build {tag}/");
        let (key, cert) = (self.key(), self.cert());
        let partial = key.with_extension("partial");
        let args = hearth_system::secure_boot::new_key_args(
            &subject,
            &partial.display().to_string(),
            &cert.display().to_string(),
        );
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        runner.run("openssl", &args)?;
        fs::set_permissions(&partial, fs::Permissions::from_mode(0o600))?;
        fs::rename(&partial, &key)?;
        if !cert.is_file() {
            bail!("openssl made no certificate at {}", cert.display());
        }
        runner.note(&format!("build signing key made: {subject}"));
        Ok(())
    }

    /// Puts the key where DKMS signs with it, inside the chroot at `root`.
    pub fn lend_to_dkms(&self, root: &Path) -> Result<()> {
        let dkms = root.join("var/lib/dkms");
        fs::create_dir_all(&dkms)?;
        fs::copy(self.key(), dkms.join("mok.key")).context("lending the key to DKMS")?;
        fs::set_permissions(dkms.join("mok.key"), fs::Permissions::from_mode(0o600))?;
        fs::copy(self.cert(), dkms.join("mok.pub"))?;
        Ok(())
    }
}
