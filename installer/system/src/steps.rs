//! Named, timed steps with an indicatif spinner (drawn only on a terminal);
//! each start and end goes to the runner's log, and a failure names the step.
//! The image builder's build steps and the installer's install steps both
//! use it.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::runner::Runner;

#[derive(Debug, Clone, Serialize)]
pub struct StepTime {
    pub step: String,
    pub seconds: f64,
    pub cached: bool,
}

pub struct Steps<'a> {
    runner: &'a Runner,
    started: Instant,
    pub times: Vec<StepTime>,
}

impl<'a> Steps<'a> {
    pub fn new(runner: &'a Runner) -> Self {
        Steps {
            runner,
            started: Instant::now(),
            times: Vec::new(),
        }
    }

    /// Runs `work` as the next step.
    pub fn run<T>(&mut self, name: &str, work: impl FnOnce() -> Result<T>) -> Result<T> {
        self.run_cached(name, || work().map(|value| (value, false)))
    }

    /// As `run`, for work that says whether it came from a cache.
    pub fn run_cached<T>(
        &mut self,
        name: &str,
        work: impl FnOnce() -> Result<(T, bool)>,
    ) -> Result<T> {
        let number = self.times.len() + 1;
        self.runner.note(&format!("[{number}] {name}"));
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(format!("[{number}] {name}"));
        bar.enable_steady_tick(Duration::from_millis(200));
        let started = Instant::now();
        let cpu = CpuTime::now();
        let result = work().with_context(|| format!("step {number} `{name}` failed"));
        let seconds = started.elapsed().as_secs_f64();
        bar.finish_and_clear();
        let (value, cached) = result?;
        let how = if cached { "cached" } else { "done" };
        let line = format!("[{number}] {name}: {how} in {seconds:.1}s");
        self.runner.note(&line);
        if let Some(busy) = cpu.and_then(|c| c.busy_since()) {
            // Whether a step left processors idle: work that could overlap it.
            self.runner.note(&format!("[{number}] {name}: {busy}"));
        }
        self.times.push(StepTime {
            step: name.into(),
            seconds,
            cached,
        });
        Ok(value)
    }

    pub fn total(&self) -> Duration {
        self.started.elapsed()
    }
}

/// The processors' time so far, from the `cpu` line of `/proc/stat`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct CpuTime {
    busy: u64,
    all: u64,
    processors: usize,
}

impl CpuTime {
    fn now() -> Option<CpuTime> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        CpuTime::parse(&stat)
    }

    /// Idle and waiting for I/O are the 4th and 5th figures; the rest is work.
    fn parse(stat: &str) -> Option<CpuTime> {
        let figures: Vec<u64> = stat
            .lines()
            .next()?
            .strip_prefix("cpu ")?
            .split_whitespace()
            .map(|f| f.parse().ok())
            .collect::<Option<_>>()?;
        // guest and guest_nice are already counted in user and nice.
        let all: u64 = figures.iter().take(8).sum();
        let idle = figures.get(3)? + figures.get(4).unwrap_or(&0);
        let processors = stat
            .lines()
            .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
            .count();
        Some(CpuTime {
            busy: all - idle,
            all,
            processors,
        })
    }

    /// `CPUs 1.31 of 2 busy` from `self` to now.
    fn busy_since(self) -> Option<String> {
        CpuTime::now()?.busy_after(self)
    }

    fn busy_after(self, before: CpuTime) -> Option<String> {
        let all = self.all.checked_sub(before.all).filter(|&a| a > 0)?;
        let busy = self.busy.saturating_sub(before.busy);
        let used = busy as f64 / all as f64 * self.processors as f64;
        Some(format!("CPUs {used:.2} of {} busy", self.processors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 50 0 25 400 25 0 0 0 0 0\ncpu1 50 0 25 400 25 0 0 0 0 0\nintr 1\n";
    const AFTER: &str = "cpu  250 0 100 850 100 0 0 0 0 0\ncpu0 125 0 50 425 50 0 0 0 0 0\ncpu1 125 0 50 425 50 0 0 0 0 0\nintr 2\n";

    #[test]
    fn busy_is_work_over_all_time_times_the_processors() {
        let before = CpuTime::parse(BEFORE).expect("a cpu line");
        let after = CpuTime::parse(AFTER).expect("a cpu line");
        assert_eq!(before.processors, 2);
        // 200 of 300 jiffies were work: two thirds of two processors.
        assert_eq!(
            after.busy_after(before).as_deref(),
            Some("CPUs 1.33 of 2 busy")
        );
    }

    #[test]
    fn no_time_passed_says_nothing() {
        let before = CpuTime::parse(BEFORE).expect("a cpu line");
        assert_eq!(before.busy_after(before), None);
        assert_eq!(CpuTime::parse("intr 1\n"), None);
    }
}
