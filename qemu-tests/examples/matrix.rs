//! Every profile x case (uefi, bios, degraded, reprovision) as the
//! `profile_<name>_<case>` scenarios, one cargo test each, with a table of
//! pass, fail, n/a and minutes per cell. Results are kept after every cell
//! in target/qemu-tests/matrix.json; `--resume` skips cells that passed.
//! Each cell's whole output is kept in target/qemu-tests/matrix-logs/ (not
//! in the scenario's folder, which the scenario empties when it starts).
//!
//!     cargo run --release -p qemu-tests --example matrix [-- --resume] [PROFILE[/CASE]...]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result};

const CASES: [&str; 4] = ["uefi", "bios", "degraded", "reprovision"];

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let resume = args.iter().any(|a| a == "--resume");
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let shipped = shipped(&workspace)?;
    let asked: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let cells = cells(&shipped, &asked)?;
    let kept = workspace.join("target/qemu-tests/matrix.json");
    let mut results: BTreeMap<String, (String, f64)> = match resume {
        true => std::fs::read_to_string(&kept)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default(),
        false => BTreeMap::new(),
    };
    for (profile, case) in cells {
        let cell = format!("{profile}/{case}");
        if results
            .get(&cell)
            .is_some_and(|(r, _)| r == "pass" || r == "n/a")
        {
            continue;
        }
        let outcome = run(&workspace, &profile, case)?;
        eprintln!("{cell}: {} ({:.1} min)", outcome.0, outcome.1);
        if outcome.0 == "FAIL" {
            eprintln!("  why: target/qemu-tests/matrix-logs/profile-{profile}-{case}.log");
        }
        results.insert(cell, outcome);
        std::fs::create_dir_all(kept.parent().unwrap_or(&workspace))?;
        std::fs::write(&kept, serde_json::to_string_pretty(&results)?)?;
    }
    print!("{}", table(&shipped, &results));
    eprintln!("kept in {}", kept.display());
    Ok(())
}

/// The cells asked for: every case of a PROFILE, one PROFILE/CASE, or all.
fn cells(shipped: &[String], asked: &[&String]) -> Result<Vec<(String, &'static str)>> {
    let mut out = Vec::new();
    let picks: Vec<&String> = match asked.is_empty() {
        true => shipped.iter().collect(),
        false => asked.to_vec(),
    };
    for pick in picks {
        let (profile, case) = pick.split_once('/').unwrap_or((pick, ""));
        anyhow::ensure!(
            shipped.iter().any(|s| s == profile),
            "{profile}: not a shipped profile (one of {})",
            shipped.join(", ")
        );
        let cases: Vec<&'static str> = CASES
            .iter()
            .copied()
            .filter(|c| case.is_empty() || *c == case)
            .collect();
        anyhow::ensure!(
            !cases.is_empty(),
            "{pick}: no case {case} (one of {})",
            CASES.join(", ")
        );
        out.extend(cases.into_iter().map(|c| (profile.to_string(), c)));
    }
    Ok(out)
}

fn shipped(workspace: &std::path::Path) -> Result<Vec<String>> {
    let names = qemu_tests::budget::file_names(&workspace.join("profiles"));
    anyhow::ensure!(!names.is_empty(), "no profiles in profiles/");
    Ok(names)
}

/// One cell: its scenario as a cargo test of its own.
fn run(workspace: &std::path::Path, profile: &str, case: &str) -> Result<(String, f64)> {
    let test = format!(
        "profiles::generated::profile_{}_{case}",
        profile.replace('-', "_")
    );
    let name = format!("profile-{profile}-{case}");
    let logs = workspace.join("target/qemu-tests/matrix-logs");
    std::fs::create_dir_all(&logs)?;
    let log = std::fs::File::create(logs.join(format!("{name}.log")))?;
    let started = Instant::now();
    let status = Command::new("cargo")
        .current_dir(workspace)
        .args([
            "test",
            "--release",
            "-p",
            "qemu-tests",
            "--test",
            "install",
            "--",
            "--exact",
            &test,
        ])
        .env("HEARTH_PROFILE_SCENARIOS", "1")
        .stdout(log.try_clone()?)
        .stderr(log)
        .status()
        .context("running cargo test")?;
    let minutes = started.elapsed().as_secs_f64() / 60.0;
    let marker = workspace
        .join("target/qemu-tests")
        .join(&name)
        .join("not-applicable.txt");
    let result = match (status.success(), marker.exists()) {
        (true, true) => "n/a",
        (true, false) => "pass",
        (false, _) => "FAIL",
    };
    Ok((result.into(), minutes))
}

fn table(profiles: &[String], results: &BTreeMap<String, (String, f64)>) -> String {
    let mut out = format!(
        "| profile | {} |\n| --- |{}\n",
        CASES.join(" | "),
        " --- |".repeat(CASES.len())
    );
    for profile in profiles {
        let cells: Vec<String> = CASES
            .iter()
            .map(|case| match results.get(&format!("{profile}/{case}")) {
                Some((r, _)) if r == "n/a" => "n/a".into(),
                Some((r, m)) => format!("{r} {m:.1} min"),
                None => "-".into(),
            })
            .collect();
        out.push_str(&format!("| {profile} | {} |\n", cells.join(" | ")));
    }
    out
}
