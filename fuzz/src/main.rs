//! `hearth-fuzz --execs N [--seed S] [--threads T]`: prints executions per
//! second and findings; exits 1 when there is a finding.

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use clap::Parser;

#[derive(Parser)]
#[command(
    about = "Feeds mutated profiles, answers and inventories to validate, plan and every renderer"
)]
struct Args {
    /// How many inputs to try.
    #[arg(long, default_value_t = 10_000)]
    execs: u64,
    /// The same seed tries the same inputs.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Worker threads (default: one per CPU).
    #[arg(long)]
    threads: Option<usize>,
    /// The repository whose profiles and fixtures are the seeds.
    #[arg(long, default_value = ".")]
    repo: PathBuf,
    /// Where the inputs of findings are written.
    #[arg(long, default_value = "target/fuzz-findings")]
    findings: PathBuf,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let scratch = std::env::temp_dir().join(format!("hearth-fuzz-{}", std::process::id()));
    let corpus = hearth_fuzz::Corpus::load(&args.repo, &scratch)?;
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let options = hearth_fuzz::Options {
        execs: args.execs,
        seed: args.seed,
        threads,
        findings: args.findings.clone(),
    };
    let report = hearth_fuzz::run(&options, &corpus)?;
    let _ = std::fs::remove_dir_all(&scratch);
    let c = &report.counts;
    println!(
        "hearth-fuzz: {} executions in {:.1}s ({:.0}/s, {threads} threads, seed {}): {} refused by validation, {} planned and rendered, {} files run through validators ({})",
        c.execs.load(Ordering::Relaxed),
        report.elapsed.as_secs_f64(),
        report.per_second(),
        args.seed,
        c.refused.load(Ordering::Relaxed),
        c.planned.load(Ordering::Relaxed),
        c.validated.load(Ordering::Relaxed),
        if report.validators.is_empty() { "none installed".to_string() } else { report.validators.join(", ") },
    );
    println!("findings: {}", report.findings.len());
    for (i, found) in report.findings.iter().enumerate().take(20) {
        println!("  {i:04}: {}", found.why);
    }
    if !report.findings.is_empty() {
        println!("inputs in {}", args.findings.display());
        std::process::exit(1);
    }
    Ok(())
}
