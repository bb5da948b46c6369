//! A time budget for the QEMU scenarios. `.ci/run` sets HEARTH_CI_DEADLINE
//! (seconds since the epoch); a scenario that would not finish before it is
//! skipped with the figures that say why. The CI subset (uefi-single and
//! bad-answer) always runs. Of the scenarios made from profiles/ and
//! layouts, CI runs those the last commit touched and one more that
//! rotates by the day, while they fit.

/// Scenarios that run whatever the budget says.
pub const SUBSET: &[&str] = &["uefi-single", "bad-answer"];
/// Scenarios too long to share CI's budget with the others: run by name.
pub const OUTSIDE_CI: &[&str] = &[
    "total-loss",
    "day-two",
    "encrypted",
    "upgrades",
    "proxmox-standin",
    "mok-manager",
];

/// Whether a scenario is run by name only: the long ones, those made from
/// profiles/ (`profile-<name>-<case>`) and from qemu-tests/layouts/ except
/// the ones CI picks today (`picked`).
pub fn outside_ci(name: &str) -> bool {
    if OUTSIDE_CI.contains(&name) {
        return true;
    }
    let made = name.starts_with("profile-") || name.starts_with("layout-");
    made && !picked(name)
}

/// Whether CI runs this scenario made from a file: the last commit touched
/// its file, or it is today's in the rotation over every fresh install
/// (`profile-<name>-uefi`, `-bios`, `layout-<name>`).
pub fn picked(name: &str) -> bool {
    let cells = rotation();
    let day = hearth_system::runner::epoch_seconds() / 86_400;
    let today = cells.get(day as usize % cells.len().max(1));
    today.is_some_and(|c| c == name) || touched().iter().any(|t| name.starts_with(t.as_str()))
}

/// Every fresh install made from a file, in a fixed order.
pub fn rotation() -> Vec<String> {
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut cells = Vec::new();
    for name in file_names(&workspace.join("profiles")) {
        cells.push(format!("profile-{name}-uefi"));
        cells.push(format!("profile-{name}-bios"));
    }
    for name in file_names(&workspace.join("qemu-tests/layouts")) {
        cells.push(format!("layout-{name}"));
    }
    cells
}

/// Scenario name prefixes of the profile and layout files the last commit
/// changed (none without git): `profile-<name>-`, `layout-<name>`.
fn touched() -> Vec<String> {
    let out = std::process::Command::new("git")
        .args(["diff", "--name-only", "HEAD~1", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output();
    let Ok(out) = out else { return Vec::new() };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|path| {
            let (dir, file) = path.rsplit_once('/')?;
            let name = file.strip_suffix(".toml")?;
            match dir {
                "profiles" => Some(format!("profile-{name}-")),
                "qemu-tests/layouts" if !name.ends_with(".test") => Some(format!("layout-{name}")),
                _ => None,
            }
        })
        .collect()
}

/// The `.toml` files in `dir` by name (not the `.test.toml` beside them), sorted.
pub fn file_names(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".toml")
                .map(String::from)
        })
        .filter(|name| !name.ends_with(".test"))
        .collect();
    names.sort();
    names
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
    append(&list, "skipped.txt", &format!("{name}: {why}"));
    Some(why)
}

/// Records a guest that froze while it booted and was started again, in
/// stalls.txt beside the scenario folders (target/qemu-tests for every
/// scenario); `.ci/run` prints that list, so a freeze is never silent.
pub fn note_stall(log: &std::path::Path, silent: std::time::Duration) {
    let line = format!(
        "{}: the console was silent for {} s; booted again (kept as .frozen.log)",
        log.display(),
        silent.as_secs()
    );
    eprintln!("{line}");
    if let Some(folder) = log.parent().and_then(|scenario| scenario.parent()) {
        append(folder, "stalls.txt", &line);
    }
}

/// Appends a line to the list `name` in `dir`.
fn append(dir: &std::path::Path, list: &str, line: &str) {
    let _ = std::fs::create_dir_all(dir);
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(list))
    {
        use std::io::Write;
        let _ = writeln!(file, "{line}");
    }
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

    #[test]
    fn the_rotation_covers_every_profile_and_layout_and_picks_one_a_day() {
        let cells = rotation();
        assert!(cells.contains(&"profile-nas-uefi".to_string()), "{cells:?}");
        assert!(
            cells.contains(&"profile-minimal-bios".to_string()),
            "{cells:?}"
        );
        assert!(cells.iter().any(|c| c.starts_with("layout-")), "{cells:?}");
        let today = cells.iter().filter(|c| picked(c)).count();
        assert!(today >= 1, "at least today's cell is picked");
    }
}
