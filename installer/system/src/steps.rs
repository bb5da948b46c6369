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
        let result = work().with_context(|| format!("step {number} `{name}` failed"));
        let seconds = started.elapsed().as_secs_f64();
        bar.finish_and_clear();
        let (value, cached) = result?;
        let how = if cached { "cached" } else { "done" };
        let line = format!("[{number}] {name}: {how} in {seconds:.1}s");
        self.runner.note(&line);
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
