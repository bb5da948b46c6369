//! What the answer server gives a machine: the first machine of
//! `server.toml` whose rules hold, its template filled with its values,
//! checked as the installer will check it (the profile, then the plan over
//! the disks the machine reported) before it is served.

use std::fs;
use std::path::{Path, PathBuf};

use super::facts::Facts;
use super::rules::Config;
use super::template;

/// The server's folder and what it read from it at start.
pub struct Answers {
    pub dir: PathBuf,
    pub config: Config,
    /// Where profiles are found by the name a machine reports.
    pub profiles: PathBuf,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Answer {
        machine: String,
        text: String,
    },
    /// No machine's rules hold: the machine falls back as it documents.
    NoMatch(String),
    /// The answer this machine would get is wrong: never served.
    Refused {
        machine: String,
        reason: String,
    },
}

impl Answers {
    pub fn decide(&self, facts: &Facts) -> Outcome {
        let Some(machine) = self.config.choose(facts) else {
            return Outcome::NoMatch(format!(
                "no machine in server.toml matches this one (MACs {}; DMI serial {:?}; disk serials {})",
                facts.nics.iter().map(|n| n.mac.as_str()).collect::<Vec<_>>().join(", "),
                facts.dmi.serial,
                facts.disk_serials().collect::<Vec<_>>().join(", ")
            ));
        };
        let name = machine.name.clone();
        match self.answer_for(machine, facts) {
            Ok(text) => Outcome::Answer {
                machine: name,
                text,
            },
            Err(reason) => Outcome::Refused {
                machine: name,
                reason,
            },
        }
    }

    fn answer_for(&self, machine: &super::rules::Machine, facts: &Facts) -> Result<String, String> {
        let path = self.dir.join("templates").join(&machine.template);
        let template = fs::read_to_string(&path)
            .map_err(|err| format!("reading the template {}: {err}", path.display()))?;
        let text = template::fill(&template, &machine.values, &machine.name)
            .map_err(|err| format!("{}: {err}", path.display()))?;
        let served = self.keep(&machine.name, &text)?;
        self.check(&served, facts)?;
        Ok(text)
    }

    /// The filled answer, kept (root only) as the record of what was served
    /// and so that problems name a file and line.
    fn keep(&self, machine: &str, text: &str) -> Result<PathBuf, String> {
        let dir = self.dir.join("served");
        let path = dir.join(format!("{machine}.toml"));
        fs::create_dir_all(&dir).map_err(|err| format!("making {}: {err}", dir.display()))?;
        hearth_system::files::write_mode(&path, text.as_bytes(), 0o600)
            .map_err(|err| format!("keeping {}: {err:#}", path.display()))?;
        Ok(path)
    }

    fn check(&self, answer: &Path, facts: &Facts) -> Result<(), String> {
        if !hearth_schema::validate::checks::is_name(&facts.profile) {
            return Err(format!(
                "the machine reports profile {:?}, which is not a profile name",
                facts.profile
            ));
        }
        let profile = self.profiles.join(format!("{}.toml", facts.profile));
        if !profile.is_file() {
            return Err(format!(
                "no profile {} to check the answer against",
                profile.display()
            ));
        }
        // Problems name the kept answer by its place in the server's folder.
        let folder = format!("{}/", self.dir.display());
        crate::prepare::plan_from_files(&profile, Some(answer), &facts.inventory)
            .map(drop)
            .map_err(|problems| problems.to_string().trim_end().replace(&folder, ""))
    }
}
