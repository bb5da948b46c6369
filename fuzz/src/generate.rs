//! Values made from the schema itself: a key the profile or answer file
//! takes, at any depth, given a value of its type (an enum's variants, the
//! hostile and edge strings, edge numbers, arrays of zero to three items).
//! Grafted into a seed, they reach keys no shipped file sets.

use serde_json::{Map, Value as Json};
use toml::Value;

use crate::mutate;
use crate::rng::Rng;

pub struct Schema {
    root: Json,
    defs: Map<String, Json>,
}

impl Schema {
    pub fn new(root: Json) -> Self {
        let defs = root
            .get("$defs")
            .and_then(Json::as_object)
            .cloned()
            .unwrap_or_default();
        Schema { root, defs }
    }

    /// Sets one key chosen by walking the schema down one to four levels.
    pub fn graft(&self, doc: &mut Value, rng: &mut Rng) {
        let mut node = &self.root;
        let mut path = Vec::new();
        for _ in 0..=rng.below(4) {
            let Some(props) = self
                .resolve(node)
                .get("properties")
                .and_then(Json::as_object)
            else {
                break;
            };
            let keys: Vec<&String> = props.keys().collect();
            if keys.is_empty() {
                break;
            }
            let key = *rng.pick(&keys);
            path.push(key.clone());
            node = &props[key];
        }
        let value = self.value(node, rng, 0);
        set(doc, &path, value);
    }

    fn resolve<'a>(&'a self, node: &'a Json) -> &'a Json {
        match node.get("$ref").and_then(Json::as_str) {
            Some(r) => r
                .rsplit('/')
                .next()
                .and_then(|name| self.defs.get(name))
                .map_or(node, |def| self.resolve(def)),
            None => node,
        }
    }

    fn value(&self, node: &Json, rng: &mut Rng, depth: usize) -> Value {
        let node = self.resolve(node);
        if let Some(choices) = node
            .get("oneOf")
            .or(node.get("anyOf"))
            .and_then(Json::as_array)
        {
            let real: Vec<&Json> = choices
                .iter()
                .filter(|c| c.get("type") != Some(&Json::from("null")))
                .collect();
            if !real.is_empty() {
                let chosen: &Json = real[rng.below(real.len())];
                return self.value(chosen, rng, depth);
            }
        }
        if let Some(values) = node.get("enum").and_then(Json::as_array) {
            if let Some(Json::String(s)) = values.get(rng.below(values.len())) {
                return Value::String(s.clone());
            }
        }
        if let Some(Json::String(s)) = node.get("const") {
            return Value::String(s.clone());
        }
        match kind(node).as_deref() {
            Some("object") if depth < 4 => self.table(node, rng, depth),
            Some("array") if depth < 4 => {
                let items = node.get("items").cloned().unwrap_or(Json::Null);
                Value::Array(
                    (0..rng.below(4))
                        .map(|_| self.value(&items, rng, depth + 1))
                        .collect(),
                )
            }
            Some("integer") => {
                Value::Integer(*rng.pick(&[0, 1, 2, 3, 8, 12, 22, 4096, 65535, 65536, -1]))
            }
            Some("boolean") => Value::Boolean(rng.chance(2)),
            _ => mutate::string(rng),
        }
    }

    /// Required keys always, the others one time in three.
    fn table(&self, node: &Json, rng: &mut Rng, depth: usize) -> Value {
        let mut table = toml::Table::new();
        let required: Vec<&str> = node
            .get("required")
            .and_then(Json::as_array)
            .map(|r| r.iter().filter_map(Json::as_str).collect())
            .unwrap_or_default();
        if let Some(props) = node.get("properties").and_then(Json::as_object) {
            for (key, child) in props {
                if required.contains(&key.as_str()) || rng.chance(3) {
                    table.insert(key.clone(), self.value(child, rng, depth + 1));
                }
            }
        }
        Value::Table(table)
    }
}

/// The schema's type, the first non-null one of a list.
fn kind(node: &Json) -> Option<String> {
    match node.get("type")? {
        Json::String(s) => Some(s.clone()),
        Json::Array(kinds) => kinds
            .iter()
            .filter_map(Json::as_str)
            .find(|k| *k != "null")
            .map(String::from),
        _ => None,
    }
}

fn set(doc: &mut Value, path: &[String], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut here = doc;
    for key in parents {
        let Value::Table(table) = here else {
            return;
        };
        here = table
            .entry(key.clone())
            .or_insert_with(|| Value::Table(toml::Table::new()));
    }
    if let Value::Table(table) = here {
        table.insert(last.clone(), value);
    }
}
