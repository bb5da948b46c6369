//! Work the live system does for the target before it exists: the live
//! system is the target's base, so its tools are the target's. The
//! firewall's ruleset is checked before the first write; the SSH host
//! keys are made while the system unpacks and moved in afterwards.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{Context, Result};

use crate::plan::Plan;
use crate::runner::Runner;

/// Where the host keys wait for the target (tmpfs, this machine only).
const HOST_KEYS: &str = "/run/hearth/host-keys";
const CHECKED_RULESET: &str = "/run/hearth/nftables.conf";

/// nft loads a ruleset all or nothing: one that does not load would leave
/// the server with no firewall at all, so the install refuses it before
/// anything is written.
pub fn firewall_loads(plan: &Plan, runner: &Runner) -> Result<()> {
    let path = Path::new(crate::services::firewall::PATH);
    let Some(file) = plan.files.iter().find(|f| f.path == path) else {
        return Ok(());
    };
    fs::create_dir_all("/run/hearth")?;
    fs::write(CHECKED_RULESET, &file.content)?;
    let checked = runner.run("nft", &["-c", "-f", CHECKED_RULESET]);
    let _ = fs::remove_file(CHECKED_RULESET);
    checked.map(drop).context(
        "the firewall's ruleset does not load (nft -c); nothing was written rather than leave the server open",
    )
}

/// Every kind of host key sshd takes, made on this machine.
pub fn make_host_keys(runner: &Runner) -> Result<()> {
    let _ = fs::remove_dir_all(HOST_KEYS);
    fs::create_dir_all(Path::new(HOST_KEYS).join("etc/ssh"))?;
    fs::set_permissions(HOST_KEYS, fs::Permissions::from_mode(0o700))?;
    runner.run("ssh-keygen", &["-A", "-f", HOST_KEYS])?;
    Ok(())
}

/// The keys `make_host_keys` made, into the target's /etc/ssh with their
/// modes; none is left behind.
pub fn host_keys_into(target: &Path) -> Result<()> {
    let made = Path::new(HOST_KEYS).join("etc/ssh");
    let into = target.join("etc/ssh");
    let mut moved = 0;
    for entry in fs::read_dir(&made).context("the host keys made for the target")? {
        let path = entry?.path();
        let name = path.file_name().unwrap_or_default();
        let to = into.join(name);
        fs::copy(&path, &to).with_context(|| format!("copying {}", path.display()))?;
        moved += 1;
    }
    fs::remove_dir_all(HOST_KEYS)?;
    anyhow::ensure!(moved > 0, "no host key was made for the target");
    Ok(())
}
