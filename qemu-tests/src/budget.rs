//! A time budget for the QEMU scenarios. `.ci/run` sets HEARTH_CI_DEADLINE
//! (seconds since the epoch); a scenario that would not finish before it is
//! skipped with the figures that say why. The CI subset (uefi-single and
//! bad-answer) always runs.

/// Scenarios that run whatever the budget says.
pub const SUBSET: &[&str] = &["uefi-single", "bad-answer"];
/// Scenarios too long to share CI's budget with the others: run by name.
pub const OUTSIDE_CI: &[&str] = &["total-loss", "day-two", "encrypted", "upgrades"];

/// Whether a scenario is run by name only: the long ones, those made from
/// profiles/ (`profile-<name>-<case>`) and from qemu-tests/layouts/.
pub fn outside_ci(name: &str) -> bool {
    OUTSIDE_CI.contains(&name) || name.starts_with("profile-") || name.starts_with("layout-")
}

/// None when the scenario fits (or no deadline is set); otherwise why it is skipped.
/// Skips are also listed in target/qemu-tests/skipped.txt, which `.ci/run`
/// prints (cargo test hides a passing test's output).
pub fn refuse(name: &str, minutes: u64) -> Option<String> {
    let deadline: u64 = std::env::var("HEARTH_CI_DEADLINE").ok()?.parse().ok()?;
    let why = refusal(
        name,
        minutes,
        deadline,
        hearth_system::runner::epoch_seconds(),
    )?;
    let list = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/qemu-tests");
    let _ = std::fs::create_dir_all(&list);
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(list.join("skipped.txt"))
    {
        use std::io::Write;
        let _ = writeln!(file, "{name}: {why}");
    }
    Some(why)
}

fn refusal(name: &str, minutes: u64, deadline: u64, now: u64) -> Option<String> {
    if SUBSET.contains(&name) {
        return None;
    }
    if outside_ci(name) {
        return Some(format!(
            "it takes about {minutes} min under TCG, more than CI's budget leaves beside the others; run it by name"
        ));
    }
    let left = deadline.saturating_sub(now) / 60;
    (minutes > left).then(|| {
        format!(
            "it takes about {minutes} min under TCG and {left} min are left of the CI budget (HEARTH_CI_DEADLINE)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subset_always_runs_and_the_rest_only_when_it_fits() {
        let deadline = 10_000;
        assert_eq!(refusal("uefi-single", 10, deadline, deadline), None);
        assert_eq!(
            refusal("bios-mirror", 14, deadline, deadline - 20 * 60),
            None
        );
        let why = refusal("bios-mirror", 14, deadline, deadline - 5 * 60).expect("skipped");
        assert!(
            why.contains("about 14 min") && why.contains("5 min are left"),
            "{why}"
        );
        let long = refusal("total-loss", 50, deadline, deadline - 80 * 60).expect("skipped");
        assert!(long.contains("run it by name"), "{long}");
    }
}
