//! `hearth load-key POOL`, run at boot by hearth-load-key@POOL before the
//! pools mount: every encryption root of the pool whose key is not loaded
//! gets it, from its key file or a passphrase systemd asks for on the
//! console (three tries). Nothing typed is logged.

use anyhow::{bail, Result};

use crate::runner::Runner;

/// Encryption roots below `pool` (itself included) whose key is not
/// loaded, with their keylocation.
fn locked_roots(pool: &str, runner: &Runner) -> Result<Vec<(String, String)>> {
    let out = runner.run(
        "zfs",
        &[
            "list",
            "-H",
            "-r",
            "-t",
            "filesystem,volume",
            "-o",
            "name,encryptionroot,keystatus,keylocation",
            pool,
        ],
    )?;
    Ok(out
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            match f.as_slice() {
                [name, root, "unavailable", location] if name == root => {
                    Some((name.to_string(), location.to_string()))
                }
                _ => None,
            }
        })
        .collect())
}

pub fn load_key(pool: &str, runner: &Runner) -> Result<()> {
    for (root, location) in locked_roots(pool, runner)? {
        if location == "prompt" {
            ask(&root, runner)?;
        } else {
            runner.run("zfs", &["load-key", &root])?;
        }
        runner.note(&format!("{root}: key loaded"));
    }
    Ok(())
}

fn ask(root: &str, runner: &Runner) -> Result<()> {
    let prompt = format!("Passphrase of encrypted ZFS dataset {root}:");
    for _ in 0..3 {
        let typed = runner.run_secret(
            "systemd-ask-password",
            &["--timeout=0", "--id=hearth-load-key", &prompt],
            None,
        )?;
        let line = format!("{}\n", typed.trim_end_matches('\n'));
        if runner
            .run_secret("zfs", &["load-key", root], Some(&line))
            .is_ok()
        {
            return Ok(());
        }
        runner.note(&format!("{root}: wrong passphrase"));
    }
    bail!("{root}: three wrong passphrases; run `hearth load-key` again, then `zfs mount -a`")
}
