//! From files to a plan: the profile (by name or path) and the answer are
//! loaded and checked, the machine's disks read or taken from a saved
//! inventory, and the pure planner run; every problem is located in its file.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::answer::Answer;
use crate::inventory::{self, Inventory};
use crate::load::{self, Loaded};
use crate::plan::{self, Doc, Plan};
use crate::profile::Profile;
use crate::source::{problem_in, Problem, Problems};

pub fn profile_path(given: &Path) -> PathBuf {
    if given.exists() || given.components().count() > 1 {
        return given.to_path_buf();
    }
    let name = format!("{}.toml", given.display());
    let candidates = [
        Path::new("profiles").join(&name),
        Path::new("/usr/share/hearth/profiles").join(&name),
    ];
    candidates
        .into_iter()
        .find(|p| p.exists())
        .unwrap_or_else(|| given.to_path_buf())
}

/// Loads everything and plans, reporting every problem on stderr.
pub fn make_plan(profile: &Path, answer: Option<&Path>, inventory: Option<&Path>) -> Result<Plan> {
    let inventory = match inventory {
        Some(path) => read_inventory(path)?,
        None => inventory::probe()?,
    };
    plan_from_files(&profile_path(profile), answer, &inventory).map_err(report)
}

/// Profile and answer files plus an inventory -> the plan, or every problem
/// found in any of them, located in its file.
pub fn plan_from_files(
    profile: &Path,
    answer: Option<&Path>,
    inventory: &Inventory,
) -> Result<Plan, Problems> {
    let profile = load::profile(profile)?;
    let answer = match answer {
        Some(path) => Some(load::answer(path, &profile.value)?),
        None => None,
    };
    let default = Answer::default();
    let given = answer.as_ref().map_or(&default, |a| &a.value);
    plan::build(&profile.value, given, inventory).map_err(|problems| {
        Problems(
            problems
                .into_iter()
                .map(|p| locate(&profile, answer.as_ref(), p))
                .collect(),
        )
    })
}

pub fn read_inventory(path: &Path) -> Result<Inventory> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing the inventory {}", path.display()))
}

fn locate(
    profile: &Loaded<Profile>,
    answer: Option<&Loaded<Answer>>,
    problem: plan::PlanProblem,
) -> Problem {
    match (problem.doc, answer) {
        (Doc::Answer, Some(answer)) => problem_in(&answer.sources, problem.key, problem.message),
        (Doc::Answer, None) => Problem {
            file: PathBuf::from("(no answer file)"),
            position: None,
            key: problem.key,
            message: problem.message,
        },
        (Doc::Profile, _) => problem_in(&profile.sources, problem.key, problem.message),
    }
}

pub fn report(problems: Problems) -> anyhow::Error {
    eprintln!("{problems}");
    let count = problems.0.len();
    match count {
        1 => anyhow::anyhow!("1 problem; nothing was changed"),
        n => anyhow::anyhow!("{n} problems; nothing was changed"),
    }
}

/// `hearth validate`: a profile (a shipped name or a path), and an answer
/// against it; every problem on stderr.
pub fn validate(profile: &Path, answer: Option<&Path>) -> Result<()> {
    let profile = load::profile(&profile_path(profile)).map_err(report)?;
    if let Some(answer) = answer {
        load::answer(answer, &profile.value).map_err(report)?;
    }
    println!("{}: valid", profile.sources[0].path.display());
    Ok(())
}

/// A plan saved as JSON (`hearth plan --json`, the interactive install's).
pub fn read_plan(path: &Path) -> Result<Plan> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a Hearth plan", path.display()))
}
