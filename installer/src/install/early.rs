//! Checks the live system makes for the target before the first write:
//! the live system is the target's base, so its tools are the target's.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};

use crate::plan::Plan;
use crate::runner::Runner;

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
