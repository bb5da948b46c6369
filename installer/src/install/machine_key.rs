//! The machine's own module-signing key: DKMS signs with it the modules it
//! rebuilds after a kernel update, and Secure Boot loads them once shim
//! trusts it. Made here, on the target, never shipped in an image; kept
//! with the server's state, so a reinstall brings back a key the firmware
//! already trusts.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{Context, Result};
use hearth_system::secure_boot::{self, MACHINE_CERT, MACHINE_KEY};

use super::mounts::chroot;
use crate::plan::{Plan, MOK_PASSWORD};
use crate::runner::Runner;

/// Makes the key and its certificate (DER, as DKMS and mokutil take it).
pub fn make(hostname: &str, target: &Path, runner: &Runner) -> Result<()> {
    hearth_system::dkms::forget_signing_key(target);
    fs::create_dir_all(target.join("var/lib/dkms"))?;
    let subject = format!("/CN=Hearth machine {hostname}/");
    let mut args = vec!["openssl".to_string()];
    args.extend(secure_boot::new_key_args(
        &subject,
        MACHINE_KEY,
        MACHINE_CERT,
    ));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    chroot(runner, target, &args)?;
    let key = target.join(MACHINE_KEY.trim_start_matches('/'));
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600))?;
    Ok(())
}

/// Asks shim to enroll the key at the next boot (`mokutil --import`), with
/// the answer's one-time password; on UEFI only, and not a key (kept from
/// before a reinstall) that is enrolled already.
pub fn enroll(plan: &Plan, target: &Path, runner: &Runner) -> Result<()> {
    let Some(hash) = plan.secrets.get(MOK_PASSWORD) else {
        return Ok(());
    };
    if secure_boot::state() == secure_boot::State::NoEfi {
        runner.note("the machine key is not enrolled: this machine did not boot by UEFI");
        return Ok(());
    }
    let tested = chroot(runner, target, &["mokutil", "--test-key", MACHINE_CERT]);
    if tested.is_ok_and(|said| said.contains("already enrolled")) {
        runner.note("the machine key is enrolled already");
        return Ok(());
    }
    // Root-only in the target's /run, gone when the install ends.
    let inside = "/run/hearth-mok.hash";
    let file = target.join(inside.trim_start_matches('/'));
    hearth_system::files::write_mode(&file, format!("{hash}\n").as_bytes(), 0o600)?;
    let imported = chroot(
        runner,
        target,
        &["mokutil", "--import", MACHINE_CERT, "--hash-file", inside],
    );
    let _ = fs::remove_file(&file);
    imported.context("mokutil --import of the machine's key")?;
    runner.note("the machine key waits for its enrolment in MokManager at the next boot");
    Ok(())
}
