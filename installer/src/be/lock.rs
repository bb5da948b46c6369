//! One ESP writer at a time: boot-ok at boot, a hook, a rollback typed at
//! the same moment. A folder made atomically in /run (gone at reboot).

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

const LOCK: &str = "/run/hearth/boot-environments.lock";
/// A holder that died long ago left it behind.
const STALE: Duration = Duration::from_secs(600);

pub struct Lock;

impl Lock {
    pub fn take() -> Result<Lock> {
        fs::create_dir_all("/run/hearth")?;
        let started = Instant::now();
        loop {
            if fs::create_dir(LOCK).is_ok() {
                return Ok(Lock);
            }
            let age = fs::metadata(LOCK)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok());
            if age.is_some_and(|a| a > STALE) {
                let _ = fs::remove_dir(LOCK);
                continue;
            }
            if started.elapsed() > Duration::from_secs(300) {
                bail!("{LOCK} is held: another hearth be is writing the ESPs");
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        if Path::new(LOCK).is_dir() {
            let _ = fs::remove_dir(LOCK);
        }
    }
}
