//! Reading profiles and answer files: TOML syntax, one level of `extends`,
//! every unknown key at once, then the checks of `validate`, all reported
//! with file, line, column and key.

use std::fs;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use toml::{Table, Value};

use crate::answer::Answer;
use crate::keypath::{KeyPath, Seg};
use crate::profile::{KeyBytes, Profile};
use crate::source::{problem_in, Problem, Problems, Source};
use crate::validate::{self, Finding};

/// A value with the files it came from (the extending file first).
pub struct Loaded<T> {
    pub value: T,
    pub sources: Vec<Source>,
}

impl<T> Loaded<T> {
    pub fn problems(&self, findings: Vec<Finding>) -> Vec<Problem> {
        findings
            .into_iter()
            .map(|finding| problem_in(&self.sources, finding.key, finding.message))
            .collect()
    }

    pub fn dir(&self) -> PathBuf {
        self.sources
            .first()
            .and_then(|s| s.path.parent())
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }
}

/// Loads and checks a profile (and the profile it extends); `more` adds the
/// checks that live outside the schema (each service's own).
pub fn profile_with(
    path: &Path,
    more: impl Fn(&Profile) -> Vec<Finding>,
) -> Result<Loaded<Profile>, Problems> {
    let (table, sources) = layers(path)?;
    let value: Profile = deserialize(table, &sources)?;
    let loaded = Loaded { value, sources };
    let mut findings = validate::profile(&loaded.value);
    findings.extend(more(&loaded.value));
    let problems = loaded.problems(findings);
    done(loaded, problems)
}

/// The profile as one TOML table, `extends` resolved and dropped: what an
/// install medium carries, so it needs neither the parent nor its folder.
/// Check it with `profile_with` first; this only reads and merges.
pub fn merged(path: &Path) -> Result<Table, Problems> {
    let (mut table, _) = layers(path)?;
    table.remove("extends");
    Ok(table)
}

/// The profile's table merged over the one it extends, with both sources.
fn layers(path: &Path) -> Result<(Table, Vec<Source>), Problems> {
    let child = read(path)?;
    let mut table = child.value();
    let mut sources = vec![child];
    if let Some(parent) = table.get("extends").cloned() {
        let parent_source = read_parent(&sources[0], &parent)?;
        table = merge(parent_source.value(), table);
        sources.push(parent_source);
    }
    Ok((table, sources))
}

/// Loads an answer file and checks it against the profile it will be used with.
pub fn answer(path: &Path, profile: &Profile) -> Result<Loaded<Answer>, Problems> {
    let source = read(path)?;
    let sources = vec![source];
    let value: Answer = deserialize(sources[0].value(), &sources)?;
    let mut loaded = Loaded { value, sources };
    let mut problems = key_material(&mut loaded);
    problems.extend(loaded.problems(validate::answer(&loaded.value, profile)));
    done(loaded, problems)
}

fn done<T>(loaded: Loaded<T>, problems: Vec<Problem>) -> Result<Loaded<T>, Problems> {
    if problems.is_empty() {
        Ok(loaded)
    } else {
        Err(Problems(problems))
    }
}

fn read(path: &Path) -> Result<Source, Problems> {
    let text = fs::read_to_string(path).map_err(|err| {
        Problems(vec![Problem {
            file: path.to_path_buf(),
            position: None,
            key: KeyPath::root(),
            message: format!("cannot read the file: {err}"),
        }])
    })?;
    Source::parse(path, text).map_err(|p| Problems(vec![p]))
}

fn read_parent(child: &Source, parent: &Value) -> Result<Source, Problems> {
    let key = KeyPath::root().key("extends");
    let fail = |message: String| Problems(vec![child.problem(key.clone(), message)]);
    let Some(name) = parent.as_str() else {
        return Err(fail("must be the name of a profile, a string".into()));
    };
    // A name, not a path: the parent is in the same folder, never elsewhere.
    if !crate::validate::checks::is_name(name) {
        return Err(fail(format!(
            "`{}` is not a profile name; allowed: the name (lowercase letters, digits and dashes) of a profile in the same folder",
            name.escape_debug()
        )));
    }
    let dir = child.path.parent().unwrap_or(Path::new("."));
    let path = dir.join(format!("{name}.toml"));
    if !path.is_file() {
        return Err(fail(format!(
            "no profile `{name}`: {} does not exist; allowed: a profile in the same folder",
            path.display()
        )));
    }
    let source = read(&path)?;
    if source.value().contains_key("extends") {
        return Err(fail(format!(
            "`{name}` itself extends another profile; only one level of layering is allowed"
        )));
    }
    Ok(source)
}

/// Child values win; tables merge key by key; arrays are replaced whole.
fn merge(mut parent: Table, child: Table) -> Table {
    for (key, value) in child {
        let merged = match (parent.remove(&key), value) {
            (Some(Value::Table(p)), Value::Table(c)) => Value::Table(merge(p, c)),
            (_, value) => value,
        };
        parent.insert(key, merged);
    }
    parent
}

/// Deserializes, collecting every unknown key (each is removed and the
/// attempt repeated) so that one run reports them all.
fn deserialize<T: DeserializeOwned>(table: Table, sources: &[Source]) -> Result<T, Problems> {
    let mut value = Value::Table(table);
    let mut problems = Vec::new();
    loop {
        let err = match serde_path_to_error::deserialize(value.clone()) {
            Ok(parsed) if problems.is_empty() => return Ok(parsed),
            Ok(_) => return Err(Problems(problems)),
            Err(err) => err,
        };
        let key = KeyPath::from_serde(err.path());
        let message = first_line(&err.inner().to_string());
        let Some(unknown) = unknown_field(&message) else {
            problems.push(problem_in(sources, key, message));
            return Err(Problems(problems));
        };
        let allowed = allowed_fields(&message);
        let parent = &key.0[..key.0.len().saturating_sub(1)];
        problems.push(problem_in(
            sources,
            key.clone(),
            format!("unknown key; allowed: {allowed}"),
        ));
        if !remove(&mut value, parent, &unknown) {
            return Err(Problems(problems));
        }
    }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or("").trim().to_string()
}

fn unknown_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    Some(rest[..rest.find('`')?].to_string())
}

fn allowed_fields(message: &str) -> String {
    match message.split_once(", expected ") {
        Some((_, expected)) => expected
            .trim_start_matches("one of ")
            .replace('`', "")
            .replace(" or ", ", "),
        None => "no keys here".into(),
    }
}

/// Removes key `name` from the table at `parent`.
fn remove(value: &mut Value, parent: &[Seg], name: &str) -> bool {
    match (parent.split_first(), value) {
        (None, Value::Table(table)) => table.remove(name).is_some(),
        (Some((Seg::Key(key), rest)), Value::Table(table)) => {
            table.get_mut(key).is_some_and(|v| remove(v, rest, name))
        }
        (Some((Seg::Index(i), rest)), Value::Array(array)) => {
            array.get_mut(*i).is_some_and(|v| remove(v, rest, name))
        }
        _ => false,
    }
}

/// The answer's key and passphrase files, read now: a missing or wrong
/// one is found before the disks are touched, not half way.
fn key_material(loaded: &mut Loaded<Answer>) -> Vec<Problem> {
    let dir = loaded.dir();
    let mut problems = Vec::new();
    let names: Vec<String> = loaded.value.pools.keys().cloned().collect();
    for name in names {
        let at = KeyPath::root().key("pools").key(name.clone());
        let pool = loaded.value.pools.get(&name).cloned().unwrap_or_default();
        let mut fail = |key: &str, message: String| {
            problems.push(problem_in(&loaded.sources, at.key(key), message));
        };
        if let Some(file) = &pool.key_file {
            match read_beside(&dir, file) {
                Ok(bytes) if bytes.len() == KEY_LEN => {
                    if let Some(p) = loaded.value.pools.get_mut(&name) {
                        p.key_bytes = Some(KeyBytes(bytes));
                    }
                }
                Ok(bytes) => fail("key-file", format!(
                    "{} holds {} bytes; a raw ZFS key is exactly {KEY_LEN} bytes (make one with `head -c 32 /dev/urandom > {}`)",
                    file.display(), bytes.len(), file.display()
                )),
                Err(why) => fail("key-file", why),
            }
        }
        if let Some(file) = &pool.passphrase_file {
            if pool.passphrase.is_some() {
                fail(
                    "passphrase-file",
                    "give `passphrase` or `passphrase-file`, not both".into(),
                );
                continue;
            }
            match read_beside(&dir, file) {
                Ok(bytes) => {
                    let text = String::from_utf8_lossy(&bytes);
                    let line = text.lines().next().unwrap_or_default().to_string();
                    if let Some(p) = loaded.value.pools.get_mut(&name) {
                        p.passphrase = Some(line);
                    }
                }
                Err(why) => fail("passphrase-file", why),
            }
        }
    }
    problems
}

/// A raw ZFS key (keyformat=raw) is 32 bytes.
pub const KEY_LEN: usize = 32;

/// A file named relative to the answer's folder, never outside it.
fn read_beside(dir: &Path, file: &Path) -> Result<Vec<u8>, String> {
    let text = file.to_string_lossy();
    if text.starts_with('/')
        || file
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(format!(
            "`{}` must be a file name relative to the answer's folder (e.g. tank.key), with no `..` part",
            text.escape_debug()
        ));
    }
    let path = dir.join(file);
    fs::read(&path).map_err(|err| format!("cannot read {}: {err}", path.display()))
}
