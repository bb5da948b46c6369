//! A file the install writes into the target, with its mode as a number.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct File {
    pub path: PathBuf,
    pub mode: Mode,
    pub content: String,
}

impl File {
    /// A file everyone may read (0644).
    pub fn public(path: impl Into<PathBuf>, content: impl Into<String>) -> File {
        File {
            path: path.into(),
            mode: Mode::PUBLIC,
            content: content.into(),
        }
    }

    /// A file only root reads (0600): it holds or points at secrets.
    pub fn private(path: impl Into<PathBuf>, content: impl Into<String>) -> File {
        File {
            path: path.into(),
            mode: Mode::PRIVATE,
            content: content.into(),
        }
    }
}

/// Permission bits, written in plans as four octal digits ("0644").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mode(u32);

impl Mode {
    pub const PUBLIC: Mode = Mode(0o644);
    pub const PRIVATE: Mode = Mode(0o600);

    /// Permission bits only (no file type); anything else is refused.
    pub fn new(bits: u32) -> Option<Mode> {
        (bits <= 0o7777).then_some(Mode(bits))
    }

    pub fn bits(self) -> u32 {
        self.0
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04o}", self.0)
    }
}

impl Serialize for Mode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Mode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Mode, D::Error> {
        let text = String::deserialize(deserializer)?;
        let parsed = (text.len() == 4)
            .then(|| u32::from_str_radix(&text, 8).ok())
            .flatten()
            .and_then(Mode::new);
        parsed.ok_or_else(|| {
            serde::de::Error::custom(format!(
                "file mode `{text}`: four octal digits such as 0644"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_are_four_octal_digits_both_ways() {
        let json = serde_json::to_string(&Mode::PRIVATE).expect("json");
        assert_eq!(json, "\"0600\"");
        let back: Mode = serde_json::from_str("\"2775\"").expect("mode");
        assert_eq!(back.bits(), 0o2775);
        for bad in ["\"644\"", "\"0648\"", "\"rw-r--r--\"", "\"00644\""] {
            assert!(
                serde_json::from_str::<Mode>(bad).is_err(),
                "{bad} was accepted"
            );
        }
    }
}
