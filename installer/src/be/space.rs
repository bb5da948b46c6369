//! What fits on an ESP: the environments to copy, those to leave off, and
//! those whose files go, decided before anything is written.

use anyhow::{bail, Result};

/// One environment as an ESP sync sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub name: String,
    /// Bytes of its kernel and initrd.
    pub bytes: u64,
    /// The ESP already holds these very files.
    pub current: bool,
    /// Running, default or fallback: never left off.
    pub protected: bool,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Choice {
    /// Environments whose files are copied (not yet there, or changed).
    pub copy: Vec<String>,
    /// Environment folders removed from the ESP (destroyed or pruned).
    pub remove: Vec<String>,
    /// Environments on this ESP after the sync, newest first.
    pub listed: Vec<String>,
}

/// Room kept free beyond the files: FAT's own bookkeeping, grub.cfg.
pub const MARGIN: u64 = 2 << 20;

/// `wanted` is newest first; `on_esp` are the folders the ESP holds, with
/// their sizes; `free` is the ESP's free space. The oldest unprotected
/// environments are left off until the copies fit.
pub fn choose(wanted: &[Wanted], on_esp: &[(String, u64)], free: u64) -> Result<Choice> {
    let mut kept: Vec<&Wanted> = wanted.iter().collect();
    loop {
        let need: u64 = kept.iter().filter(|w| !w.current).map(|w| w.bytes).sum();
        let freed: u64 = on_esp
            .iter()
            .filter(|(name, _)| !kept.iter().any(|w| &w.name == name))
            .map(|(_, bytes)| bytes)
            .sum();
        if need + MARGIN <= free + freed {
            return Ok(choice(&kept, on_esp));
        }
        let Some(oldest) = kept.iter().rposition(|w| !w.protected) else {
            bail!(
                "{} MiB needed, {} MiB free even without the older environments",
                (need + MARGIN) >> 20,
                (free + freed) >> 20
            );
        };
        kept.remove(oldest);
    }
}

fn choice(kept: &[&Wanted], on_esp: &[(String, u64)]) -> Choice {
    Choice {
        copy: kept
            .iter()
            .filter(|w| !w.current)
            .map(|w| w.name.clone())
            .collect(),
        remove: on_esp
            .iter()
            .filter(|(name, _)| !kept.iter().any(|w| &w.name == name))
            .map(|(name, _)| name.clone())
            .collect(),
        listed: kept.iter().map(|w| w.name.clone()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    fn env(name: &str, mib: u64, current: bool, protected: bool) -> Wanted {
        Wanted {
            name: name.into(),
            bytes: mib * MIB,
            current,
            protected,
        }
    }

    #[test]
    fn everything_fits_nothing_is_pruned() {
        let wanted = [env("c", 60, false, true), env("b", 60, true, false)];
        let on_esp = [("b".to_string(), 60 * MIB), ("gone".to_string(), 60 * MIB)];
        let choice = choose(&wanted, &on_esp, 100 * MIB).expect("fits");
        assert_eq!(choice.copy, ["c"]);
        assert_eq!(choice.remove, ["gone"]);
        assert_eq!(choice.listed, ["c", "b"]);
    }

    #[test]
    fn the_oldest_unprotected_go_first() {
        let wanted = [
            env("d", 60, false, true),
            env("c", 60, true, true),
            env("b", 60, true, false),
            env("a", 60, true, false),
        ];
        let on_esp: Vec<(String, u64)> =
            ["c", "b", "a"].map(|n| (n.to_string(), 60 * MIB)).to_vec();
        let choice = choose(&wanted, &on_esp, 10 * MIB).expect("fits once a goes");
        assert_eq!(choice.remove, ["a"]);
        assert_eq!(choice.listed, ["d", "c", "b"]);
    }

    #[test]
    fn protected_environments_that_cannot_fit_are_an_error_before_any_write() {
        let wanted = [env("b", 60, false, true), env("a", 60, false, true)];
        let err = choose(&wanted, &[], 100 * MIB).expect_err("too big");
        assert!(
            err.to_string().contains("122 MiB needed, 100 MiB free"),
            "{err}"
        );
    }
}
