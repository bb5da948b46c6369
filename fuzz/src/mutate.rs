//! Mutations of TOML documents (profiles, answers) and of inventories:
//! hostile strings carrying the marker, edge numbers, paths that escape,
//! keys removed, array items doubled, and sections grafted from another
//! seed so that every service meets every other.

use serde_json::Value as Json;
use toml::Value;

use crate::rng::Rng;

/// The string a hostile value carries; found at the start of a line of a
/// generated file, it means a value wrote a line of its own.
pub const MARKER: &str = "HEARTHFUZZ";

/// Each holds the marker behind something a config format could read as
/// the end of a value: a line break, a section end, a quote, a separator.
const HOSTILE: &[&str] = &[
    "x\nHEARTHFUZZ = 1",
    "x\r\nHEARTHFUZZ",
    "x\rHEARTHFUZZ",
    "x]\nHEARTHFUZZ",
    "x\"\nHEARTHFUZZ=\"",
    "/tank/share\nHEARTHFUZZ",
    "daily\nHEARTHFUZZ=/bin/id",
    "x\\\nHEARTHFUZZ",
    "x\u{85}HEARTHFUZZ",
    "x\u{0b}HEARTHFUZZ",
    "x\u{0c}HEARTHFUZZ",
    "x\u{0}\nHEARTHFUZZ",
    "192.168.1.0/24\nHEARTHFUZZ",
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGnd6ahwgVu+BoJ0Dkz5HzDK0T3FZnOhPJ5OhHjJmSRj x\nHEARTHFUZZ",
    "rest:http://127.0.0.1:8000/x\nHEARTHFUZZ=1",
    "zfsrecv@backup.home.arpa:tank/x\nHEARTHFUZZ",
    "name:en*\nHEARTHFUZZ",
    "$6$salt$hash\nHEARTHFUZZ",
];

/// Plain values that are hostile without a marker: escapes, edges, odd
/// but legal forms, other address families.
const EDGES: &[&str] = &[
    "",
    " ",
    "global",
    "homes",
    "/",
    "/etc",
    "/tank/../etc",
    "/tank/./x",
    "/tank//x",
    "../../x",
    "tank",
    "tank/share",
    "tank/share/../..",
    "/tank/share/Family Photos",
    "/tank/share/100%",
    "/tank/share/$(id)",
    "root",
    "sshd",
    "_apt",
    "wheel",
    "fd00:8::1/64",
    "fd00::/64",
    "2001:db8::1",
    "10.8.0.1/24",
    "0.0.0.0/0",
    "::/0",
    "*-*-* 02:30",
    "Mon..Fri 22:00",
    "25:00",
    "locked",
    "ask",
    "kept",
    "s3:s3.example.org/bucket",
    "rest:https://[2001:db8::1]:8000/x",
    "b2:bucket:path",
    "mirror",
    "zstd-19",
    "ro",
    "no_root_squash",
    "fsid=0",
    "mac:52:54:00:12:34:56",
    "first-with-link",
    "debian/13",
    "-rf",
    "a\u{2028}b",
    "é",
];

const NUMBERS: &[i64] = &[
    0,
    1,
    2,
    8,
    9,
    12,
    16,
    17,
    22,
    255,
    4096,
    65535,
    65536,
    -1,
    i64::MAX,
];

/// Applies one to four mutations to `doc`, with `donors` to graft from.
pub fn document(doc: &mut Value, donors: &[Value], rng: &mut Rng) {
    for _ in 0..=rng.below(4) {
        match rng.below(10) {
            0..=4 => leaf(doc, rng),
            5 => remove(doc, rng),
            6 => double(doc, rng),
            _ => graft(doc, rng.pick(donors), rng),
        }
    }
}

/// A path to a value: keys and indexes from the top.
#[derive(Clone)]
enum Step {
    Key(String),
    Index(usize),
}

fn paths(value: &Value, at: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    out.push(at.clone());
    match value {
        Value::Table(table) => {
            for (key, child) in table {
                at.push(Step::Key(key.clone()));
                paths(child, at, out);
                at.pop();
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                at.push(Step::Index(i));
                paths(child, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

fn at<'v>(value: &'v mut Value, path: &[Step]) -> Option<&'v mut Value> {
    let mut here = value;
    for step in path {
        here = match (step, here) {
            (Step::Key(key), Value::Table(table)) => table.get_mut(key)?,
            (Step::Index(i), Value::Array(items)) => items.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(here)
}

fn random_path(doc: &Value, rng: &mut Rng) -> Vec<Step> {
    let mut all = Vec::new();
    paths(doc, &mut Vec::new(), &mut all);
    rng.pick(&all).clone()
}

fn leaf(doc: &mut Value, rng: &mut Rng) {
    let path = random_path(doc, rng);
    let fresh = new_value(rng);
    if let Some(target) = at(doc, &path) {
        match target {
            Value::Table(_) | Value::Array(_) if !rng.chance(4) => {}
            _ => *target = fresh,
        }
    }
}

fn new_value(rng: &mut Rng) -> Value {
    match rng.below(8) {
        0..=4 => string(rng),
        5 => Value::Integer(*rng.pick(NUMBERS)),
        6 => Value::String(noise(rng)),
        _ => Value::Boolean(rng.chance(2)),
    }
}

/// A hostile string, or an edge one.
pub fn string(rng: &mut Rng) -> Value {
    match rng.below(5) {
        0..=2 => Value::String(rng.pick(HOSTILE).to_string()),
        _ => Value::String(rng.pick(EDGES).to_string()),
    }
}

/// A short string of characters config formats care about.
pub fn noise(rng: &mut Rng) -> String {
    const CHARS: &[char] = &[
        'a', 'z', 'A', '0', '9', '/', '.', ' ', '\n', ':', '[', ']', '"', '\'', '=', '$', '%', '#',
        ';', ',', '*', '@', '-', '_', '\\', '(', ')', '{', '}', '\t', 'é', '~', '+', '!', '&', '|',
    ];
    let mut text: String = (0..=rng.below(12)).map(|_| *rng.pick(CHARS)).collect();
    if rng.chance(3) {
        text.push('\n');
        text.push_str(MARKER);
    }
    text
}

fn remove(doc: &mut Value, rng: &mut Rng) {
    let path = random_path(doc, rng);
    let Some((last, parent)) = path.split_last() else {
        return;
    };
    match (last, at(doc, parent)) {
        (Step::Key(key), Some(Value::Table(table))) => {
            table.remove(key);
        }
        (Step::Index(i), Some(Value::Array(items))) if *i < items.len() => {
            items.remove(*i);
        }
        _ => {}
    }
}

fn double(doc: &mut Value, rng: &mut Rng) {
    let path = random_path(doc, rng);
    if let Some(Value::Array(items)) = at(doc, &path) {
        if let Some(first) = items.first().cloned() {
            items.push(first);
        }
    }
}

/// Copies a top-level section (or a service) of `donor` into `doc`.
fn graft(doc: &mut Value, donor: &Value, rng: &mut Rng) {
    let (Value::Table(doc), Value::Table(donor)) = (doc, donor) else {
        return;
    };
    if let (Some(Value::Table(services)), true) = (donor.get("services"), rng.chance(2)) {
        let keys: Vec<&String> = services.keys().collect();
        if keys.is_empty() {
            return;
        }
        let key = (*rng.pick(&keys)).clone();
        let section = services[&key].clone();
        let entry = doc
            .entry("services")
            .or_insert_with(|| Value::Table(toml::Table::new()));
        if let Value::Table(mine) = entry {
            mine.insert(key, section);
        }
        return;
    }
    let keys: Vec<&String> = donor.keys().filter(|k| *k != "name").collect();
    if !keys.is_empty() {
        let key = (*rng.pick(&keys)).clone();
        doc.insert(key.clone(), donor[&key].clone());
    }
}

/// An inventory with its disks' reports bent: model strings with line
/// breaks, shared serials, tiny or read-only disks, links gone.
pub fn inventory(doc: &mut Json, rng: &mut Rng) {
    let Some(disks) = doc.get_mut("disks").and_then(Json::as_array_mut) else {
        return;
    };
    if disks.is_empty() {
        return;
    }
    let n = disks.len();
    let other_serial = disks[rng.below(n)].get("serial").cloned();
    let disk = &mut disks[rng.below(n)];
    let Some(fields) = disk.as_object_mut() else {
        return;
    };
    match rng.below(6) {
        0 => {
            let model = format!("Disk\n{MARKER} Disks that will be ERASED");
            fields.insert("model".into(), Json::String(model));
        }
        1 => {
            fields.insert("serial".into(), other_serial.unwrap_or(Json::Null));
        }
        2 => {
            let size = *rng.pick(&[0u64, 512, 4096, 300 << 20, 4 << 30]);
            fields.insert("size".into(), Json::from(size));
        }
        3 => {
            fields.insert("read-only".into(), Json::Bool(true));
        }
        4 => {
            fields.insert("by-id".into(), Json::Array(Vec::new()));
        }
        _ => {
            fields.insert(
                "logical-sector".into(),
                Json::from(*rng.pick(&[0u32, 1, 4096, 65536])),
            );
        }
    }
}
