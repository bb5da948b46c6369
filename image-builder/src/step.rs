//! Named, timed build steps with a progress spinner; a failure names the step.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct StepTime {
    pub step: String,
    pub seconds: f64,
    pub cached: bool,
}

#[derive(Default)]
pub struct Steps {
    pub times: Vec<StepTime>,
}

impl Steps {
    /// Runs `work` as step `name`; `work` returns whether it came from the cache.
    pub fn run<T>(&mut self, name: &str, work: impl FnOnce() -> Result<(T, bool)>) -> Result<T> {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(name.to_string());
        bar.enable_steady_tick(Duration::from_millis(200));
        let started = Instant::now();
        let result = work().with_context(|| format!("step `{name}` failed"));
        let seconds = started.elapsed().as_secs_f64();
        bar.finish_and_clear();
        let (value, cached) = result?;
        let how = if cached { "cached" } else { "built" };
        eprintln!("{name}: {how} in {seconds:.1}s");
        self.times.push(StepTime {
            step: name.into(),
            seconds,
            cached,
        });
        Ok(value)
    }
}
