//! Hearth's fuzzer, on the stable toolchain: profiles, answers and
//! inventories from the shipped and fixture files, mutated (hostile
//! strings, edge numbers, escaping paths, grafted sections), fed to
//! validate and plan; every file the plan renders, the preview and the
//! first boot's client configs are checked for a line the input wrote, and
//! run through their services' validators where those are installed.

mod corpus;
mod generate;
mod mutate;
mod oracle;
mod rng;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hearth_installer::inventory::Inventory;
use hearth_installer::plan::{self, Plan};
use hearth_installer::prepare::plan_from_files;
use hearth_installer::services::{wireguard, Task};

pub use corpus::Corpus;
use oracle::Validators;
use rng::Rng;

pub struct Options {
    pub execs: u64,
    pub seed: u64,
    pub threads: usize,
    /// Where inputs that made a finding are written.
    pub findings: PathBuf,
}

/// One input that broke a rule, with what it broke.
pub struct Finding {
    pub why: String,
    pub profile: String,
    pub answer: String,
    pub inventory: String,
}

#[derive(Default)]
pub struct Counts {
    pub execs: AtomicU64,
    pub refused: AtomicU64,
    pub planned: AtomicU64,
    pub validated: AtomicU64,
}

pub struct Report {
    pub counts: Counts,
    pub findings: Vec<Finding>,
    pub elapsed: Duration,
    pub validators: Vec<&'static str>,
}

impl Report {
    pub fn per_second(&self) -> f64 {
        self.counts.execs.load(Ordering::Relaxed) as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

pub fn run(options: &Options, corpus: &Corpus) -> anyhow::Result<Report> {
    let counts = Counts::default();
    let findings = Mutex::new(Vec::new());
    let validators = Mutex::new(Vec::new());
    // A panic is a finding, reported once as such, not printed per thread.
    std::panic::set_hook(Box::new(|_| {}));
    let started = Instant::now();
    let threads = options.threads.max(1) as u64;
    std::thread::scope(|scope| {
        for t in 0..threads {
            let (counts, findings, validators) = (&counts, &findings, &validators);
            let share = options.execs / threads + u64::from(t < options.execs % threads);
            scope.spawn(move || {
                let work = corpus.work_dir(t as usize);
                let mut rng = Rng::new(options.seed.wrapping_add(t.wrapping_mul(0x0010_0000_0001)));
                let mut tools = Validators::new(&work);
                for _ in 0..share {
                    if let Some(found) = exec(corpus, &work, &mut rng, &mut tools, counts) {
                        findings.lock().map(|mut f| f.push(found)).ok();
                    }
                }
                counts.validated.fetch_add(tools.runs, Ordering::Relaxed);
                validators.lock().map(|mut v| *v = tools.available()).ok();
            });
        }
    });
    let _ = std::panic::take_hook();
    let findings = findings.into_inner().unwrap_or_default();
    save(&options.findings, &findings)?;
    Ok(Report {
        counts,
        findings,
        elapsed: started.elapsed(),
        validators: validators.into_inner().unwrap_or_default(),
    })
}

fn exec(
    corpus: &Corpus,
    work: &Path,
    rng: &mut Rng,
    tools: &mut Validators,
    counts: &Counts,
) -> Option<Finding> {
    counts.execs.fetch_add(1, Ordering::Relaxed);
    let case = corpus.case(rng);
    let profile_path = work.join("case.toml");
    let answer_path = work.join("answer.toml");
    std::fs::write(&profile_path, &case.profile).ok()?;
    std::fs::write(&answer_path, &case.answer).ok()?;
    let inventory: Inventory = serde_json::from_str(&case.inventory).ok()?;
    let planned = catch_unwind(AssertUnwindSafe(|| {
        plan_from_files(&profile_path, Some(&answer_path), &inventory)
    }));
    let finding = |why: String| Finding {
        why,
        profile: case.profile.clone(),
        answer: case.answer.clone(),
        inventory: case.inventory.clone(),
    };
    let plan = match planned {
        Err(panic) => return Some(finding(format!("panic: {}", panic_text(&panic)))),
        Ok(Err(_)) => {
            counts.refused.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Ok(Ok(plan)) => plan,
    };
    counts.planned.fetch_add(1, Ordering::Relaxed);
    let checked = catch_unwind(AssertUnwindSafe(|| check_plan(&plan, tools)));
    match checked {
        Err(panic) => Some(finding(format!("panic rendering: {}", panic_text(&panic)))),
        Ok(why) => why.map(finding),
    }
}

/// The preview, every planned file and the first boot's client configs.
fn check_plan(plan: &Plan, tools: &mut Validators) -> Option<String> {
    let mut files: Vec<(String, String)> = plan
        .files
        .iter()
        .map(|f| (f.path.display().to_string(), f.content.clone()))
        .collect();
    files.push(("(plan preview)".into(), plan::render(plan)));
    files.extend(client_configs(plan));
    for (path, content) in &files {
        if let Some(line) = oracle::injected_line(content) {
            return Some(format!("{path} has a line of the input's own: {line:?}"));
        }
    }
    for (path, content) in &files {
        if let Some(complaint) = tools.check(path, content, &files) {
            return Some(format!("{path}: {complaint}"));
        }
    }
    None
}

/// What first boot writes for each generated WireGuard peer, with keys of
/// the right shape in place of the ones it makes.
fn client_configs(plan: &Plan) -> Vec<(String, String)> {
    const KEY: &str = "YAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
    plan.first_boot
        .iter()
        .filter_map(|step| match &step.task {
            Task::WireguardServer { template, peers } => Some((
                "/etc/wireguard/wg0.conf".to_string(),
                wireguard::complete_conf(template, KEY, peers, &vec![KEY.to_string(); peers.len()]),
            )),
            Task::WireguardClient {
                name,
                address,
                endpoint,
                allowed_ips,
            } => Some((
                format!("/etc/wireguard/peers/{name}.client.conf"),
                wireguard::client_conf(KEY, address, KEY, endpoint, allowed_ips),
            )),
            _ => None,
        })
        .collect()
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

fn save(dir: &Path, findings: &[Finding]) -> anyhow::Result<()> {
    for (i, found) in findings.iter().enumerate() {
        let case = dir.join(format!("{i:04}"));
        std::fs::create_dir_all(&case)?;
        std::fs::write(case.join("why.txt"), format!("{}\n", found.why))?;
        std::fs::write(case.join("profile.toml"), &found.profile)?;
        std::fs::write(case.join("answer.toml"), &found.answer)?;
        std::fs::write(case.join("inventory.json"), &found.inventory)?;
    }
    Ok(())
}
