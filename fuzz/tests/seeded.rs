//! CI's short, seeded run: the same inputs every time, no finding allowed.
//! The long run is `cargo run --release -p hearth-fuzz -- --execs 1000000`.

use std::path::Path;
use std::sync::atomic::Ordering;

#[test]
fn a_seeded_run_finds_nothing() {
    let scratch = std::env::temp_dir().join(format!("hearth-fuzz-test-{}", std::process::id()));
    let corpus = hearth_fuzz::Corpus::load(Path::new(".."), &scratch).expect("seeds");
    let options = hearth_fuzz::Options {
        execs: 4000,
        seed: 20261201,
        threads: 2,
        findings: scratch.join("findings"),
    };
    let report = hearth_fuzz::run(&options, &corpus).expect("run");
    let planned = report.counts.planned.load(Ordering::Relaxed);
    let whys: Vec<&str> = report.findings.iter().map(|f| f.why.as_str()).collect();
    let _ = std::fs::remove_dir_all(&scratch);
    assert!(whys.is_empty(), "{whys:#?}");
    // A run that plans nothing would prove nothing about the renderers.
    assert!(planned > 100, "only {planned} inputs were planned");
    eprintln!(
        "hearth-fuzz: {} executions, {planned} planned, {:.0}/s, validators: {}",
        report.counts.execs.load(Ordering::Relaxed),
        report.per_second(),
        report.validators.join(", ")
    );
}
