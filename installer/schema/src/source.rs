//! A TOML file kept with its text, so that any key can be traced back to a
//! line and column, and the problems found in it reported compiler-style.

use std::fmt;
use std::path::{Path, PathBuf};

use toml_edit::{Array, ArrayOfTables, Document, Item, TableLike, Value};

use crate::keypath::{KeyPath, Seg};

/// One thing wrong with an input, located as precisely as the input allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    /// 1-based line and column, when the key is written in the file.
    pub position: Option<(usize, usize)>,
    pub key: KeyPath,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some((line, column)) = self.position {
            write!(f, ":{line}:{column}")?;
        }
        write!(f, ": {}: {}", self.key, self.message)
    }
}

/// All problems found in one pass, printed one per line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

/// A parsed TOML file.
pub struct Source {
    pub path: PathBuf,
    text: String,
    doc: Document<String>,
}

impl Source {
    pub fn parse(path: &Path, text: String) -> Result<Source, Problem> {
        match Document::parse(text.clone()) {
            Ok(doc) => Ok(Source {
                path: path.to_path_buf(),
                text,
                doc,
            }),
            Err(err) => {
                let position = err.span().map(|span| line_column(&text, span.start));
                let message = err.message().trim().to_string();
                Err(Problem {
                    file: path.to_path_buf(),
                    position,
                    key: KeyPath::root(),
                    message: format!("invalid TOML: {message}"),
                })
            }
        }
    }

    pub fn value(&self) -> toml::Table {
        // The text already parsed as TOML, so this cannot fail in practice;
        // an empty table keeps the error path free of panics.
        toml::from_str(&self.text).unwrap_or_default()
    }

    /// Line and column of the deepest part of `key` written in this file.
    pub fn locate(&self, key: &KeyPath) -> Option<(usize, usize)> {
        let mut node = Node::Table(self.doc.as_table());
        let mut found = None;
        for seg in &key.0 {
            let (span, next) = match (seg, node) {
                (Seg::Key(name), Node::Table(table)) => match table.get_key_value(name) {
                    Some((k, v)) => (k.span(), Node::of_item(v)),
                    None => break,
                },
                (Seg::Index(i), Node::Tables(tables)) => match tables.get(*i) {
                    Some(table) => (table.span(), Node::Table(table)),
                    None => break,
                },
                (Seg::Index(i), Node::Array(array)) => match array.get(*i) {
                    Some(value) => (value.span(), Node::of_value(value)),
                    None => break,
                },
                _ => break,
            };
            found = span.or(found);
            node = next;
        }
        found.map(|span| line_column(&self.text, span.start))
    }

    pub fn problem(&self, key: KeyPath, message: impl Into<String>) -> Problem {
        Problem {
            file: self.path.clone(),
            position: self.locate(&key),
            key,
            message: message.into(),
        }
    }

    pub fn has(&self, key: &KeyPath) -> bool {
        self.locate(key).is_some() && !key.0.is_empty()
    }
}

/// Where a walk through the document stands.
#[derive(Clone, Copy)]
enum Node<'a> {
    Table(&'a dyn TableLike),
    Tables(&'a ArrayOfTables),
    Array(&'a Array),
    Leaf,
}

impl<'a> Node<'a> {
    fn of_item(item: &'a Item) -> Self {
        match item {
            Item::Table(table) => Node::Table(table),
            Item::ArrayOfTables(tables) => Node::Tables(tables),
            Item::Value(value) => Node::of_value(value),
            Item::None => Node::Leaf,
        }
    }

    fn of_value(value: &'a Value) -> Self {
        match value {
            Value::InlineTable(table) => Node::Table(table),
            Value::Array(array) => Node::Array(array),
            _ => Node::Leaf,
        }
    }
}

/// The source whose file writes `key`, preferring the first (the child of an `extends`).
pub fn problem_in(sources: &[Source], key: KeyPath, message: impl Into<String>) -> Problem {
    let message = message.into();
    let best = sources.iter().find(|s| s.has(&key)).or(sources.first());
    match best {
        Some(source) => source.problem(key, message),
        None => Problem {
            file: PathBuf::new(),
            position: None,
            key,
            message,
        },
    }
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}
