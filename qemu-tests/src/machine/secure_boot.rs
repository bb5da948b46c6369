//! OVMF's variables for Secure Boot: Microsoft's keys enrolled and Secure
//! Boot on (Debian's OVMF_VARS_4M.ms.fd, as PCs ship), plus certificates
//! in shim's MokList, put there with virt-firmware's virt-fw-vars as if a
//! person had enrolled them in MokManager.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

const MS_VARS: &str = "/usr/share/OVMF/OVMF_VARS_4M.ms.fd";
/// The owner GUID given to enrolled certificates (shim's own).
const SHIM_GUID: &str = "605dab50-e046-4300-abb6-3dd810dd8b23";

/// Writes `out`: Microsoft's variables with `moks` enrolled.
pub fn vars_with(moks: &[PathBuf], out: &Path) -> Result<()> {
    if moks.is_empty() {
        std::fs::copy(MS_VARS, out).context("OVMF's Secure Boot variables (apt install ovmf)")?;
        return Ok(());
    }
    let mut command = Command::new("virt-fw-vars");
    command.args(["--input", MS_VARS, "--output"]).arg(out);
    for mok in moks {
        command.args(["--add-mok", SHIM_GUID]).arg(mok);
    }
    let done = command
        .output()
        .context("virt-fw-vars (apt install -t bookworm-backports python3-virt-firmware)")?;
    if !done.status.success() {
        bail!(
            "virt-fw-vars failed: {}",
            String::from_utf8_lossy(&done.stderr)
        );
    }
    Ok(())
}

/// A DER certificate as PEM, which virt-fw-vars takes.
pub fn pem_of(der: &Path, out: &Path) -> Result<()> {
    let done = Command::new("openssl")
        .args(["x509", "-inform", "DER", "-in"])
        .arg(der)
        .arg("-out")
        .arg(out)
        .output()
        .context("openssl")?;
    if !done.status.success() {
        bail!("openssl x509: {}", String::from_utf8_lossy(&done.stderr));
    }
    Ok(())
}
