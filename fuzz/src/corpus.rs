//! The seeds: every shipped profile, the fixture profiles, the fixture
//! machines' inventories and answers. A case is one of each, mutated.

use std::path::{Path, PathBuf};

use serde_json::Value as Json;
use toml::Value;

use crate::generate::Schema;
use crate::mutate;
use crate::rng::Rng;

pub struct Corpus {
    profiles: Vec<Value>,
    answers: Vec<Value>,
    inventories: Vec<Json>,
    /// Copies of the profiles a mutated one may extend, per worker.
    root: PathBuf,
    parents: Vec<(String, String)>,
    profile_schema: Schema,
    answer_schema: Schema,
}

/// One input: the texts written for the loader, kept for a finding.
pub struct Case {
    pub profile: String,
    pub answer: String,
    pub inventory: String,
}

impl Corpus {
    /// Reads the seeds from the repository at `repo`.
    pub fn load(repo: &Path, scratch: &Path) -> anyhow::Result<Corpus> {
        let mut profiles = Vec::new();
        let mut parents = Vec::new();
        for dir in ["profiles", "installer/tests/fixtures/profiles"] {
            for path in toml_files(&repo.join(dir))? {
                let text = std::fs::read_to_string(&path)?;
                let name = path
                    .file_stem()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .to_string();
                parents.push((name, text.clone()));
                profiles.push(text.parse::<toml::Table>().map(Value::Table)?);
            }
        }
        let mut answers = vec![Value::Table(toml::Table::new())];
        let mut inventories = Vec::new();
        let machines = repo.join("installer/tests/fixtures/machines");
        for entry in std::fs::read_dir(&machines)?.flatten() {
            let dir = entry.path();
            if let Ok(text) = std::fs::read_to_string(dir.join("answer.toml")) {
                answers.push(text.parse::<toml::Table>().map(Value::Table)?);
            }
            if let Ok(text) = std::fs::read_to_string(dir.join("inventory.json")) {
                inventories.push(serde_json::from_str(&text)?);
            }
        }
        anyhow::ensure!(
            !profiles.is_empty() && !inventories.is_empty(),
            "no seeds under {}",
            repo.display()
        );
        Ok(Corpus {
            profiles,
            answers,
            inventories,
            root: scratch.to_path_buf(),
            parents,
            profile_schema: Schema::new(hearth_installer::reference::profile_schema()),
            answer_schema: Schema::new(hearth_installer::reference::answer_schema()),
        })
    }

    /// A scratch folder for worker `n`, holding the profiles it may extend.
    pub fn work_dir(&self, n: usize) -> PathBuf {
        let dir = self.root.join(format!("worker-{n}"));
        let _ = std::fs::create_dir_all(&dir);
        for (name, text) in &self.parents {
            let _ = std::fs::write(dir.join(format!("{name}.toml")), text);
        }
        dir
    }

    pub fn case(&self, rng: &mut Rng) -> Case {
        let mut profile = rng.pick(&self.profiles).clone();
        if !rng.chance(10) {
            mutate::document(&mut profile, &self.profiles, rng);
        }
        if rng.chance(3) {
            self.profile_schema.graft(&mut profile, rng);
        }
        let mut answer = rng.pick(&self.answers).clone();
        if rng.chance(2) {
            mutate::document(&mut answer, &self.answers, rng);
        }
        if rng.chance(4) {
            self.answer_schema.graft(&mut answer, rng);
        }
        let mut inventory = rng.pick(&self.inventories).clone();
        if rng.chance(3) {
            mutate::inventory(&mut inventory, rng);
        }
        Case {
            profile: toml::to_string(&profile).unwrap_or_default(),
            answer: toml::to_string(&answer).unwrap_or_default(),
            inventory: inventory.to_string(),
        }
    }
}

fn toml_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    out.sort();
    Ok(out)
}
