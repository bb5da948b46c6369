//! Byte sizes as people write them in profiles ("512M", "2T", "1.5 TB").

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A size in bytes. Binary units (K, M, G, T, KiB, ...) are powers of 1024;
/// decimal units (KB, MB, GB, TB) are powers of 1000, as disk labels use them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Bytes(pub u64);

pub const KIB: u64 = 1024;
pub const MIB: u64 = 1024 * KIB;
pub const GIB: u64 = 1024 * MIB;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid size `{0}`: write a number and a unit, e.g. 512M, 100G, 2T or 1.5TB")]
pub struct SizeError(pub String);

impl FromStr for Bytes {
    type Err = SizeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || SizeError(text.to_string());
        let trimmed = text.trim();
        let split = trimmed
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(trimmed.len());
        let (number, unit) = trimmed.split_at(split);
        let number: f64 = number.parse().map_err(|_| bad())?;
        let factor: u64 = match unit.trim() {
            "" | "B" => 1,
            "K" | "KiB" => KIB,
            "M" | "MiB" => MIB,
            "G" | "GiB" => GIB,
            "T" | "TiB" => GIB * KIB,
            "P" | "PiB" => GIB * MIB,
            "KB" => 1_000,
            "MB" => 1_000_000,
            "GB" => 1_000_000_000,
            "TB" => 1_000_000_000_000,
            "PB" => 1_000_000_000_000_000,
            _ => return Err(bad()),
        };
        let bytes = number * factor as f64;
        if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
            return Err(bad());
        }
        Ok(Bytes(bytes.round() as u64))
    }
}

impl Bytes {
    /// Decimal, as a disk's label states it: "240.1 GB".
    pub fn decimal(self) -> String {
        self.scaled(&[
            (1_000_000_000_000_000, "PB"),
            (1_000_000_000_000, "TB"),
            (1_000_000_000, "GB"),
            (1_000_000, "MB"),
            (1_000, "KB"),
        ])
    }

    /// Binary with one decimal, as partition tools show it: "512.0 MiB".
    pub fn binary(self) -> String {
        self.scaled(&[
            (GIB * MIB, "PiB"),
            (GIB * KIB, "TiB"),
            (GIB, "GiB"),
            (MIB, "MiB"),
            (KIB, "KiB"),
        ])
    }

    /// In the largest unit it reaches, with one decimal.
    fn scaled(self, units: &[(u64, &str)]) -> String {
        match units.iter().find(|(factor, _)| self.0 >= *factor) {
            Some((factor, unit)) => format!("{:.1} {unit}", self.0 as f64 / *factor as f64),
            None => format!("{} B", self.0),
        }
    }
}

impl fmt::Display for Bytes {
    /// Binary and exact where possible: "512M", "2T"; otherwise bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let units = [
            (GIB * MIB, "P"),
            (GIB * KIB, "T"),
            (GIB, "G"),
            (MIB, "M"),
            (KIB, "K"),
        ];
        for (factor, unit) in units {
            if self.0 >= factor && self.0.is_multiple_of(factor) {
                return write!(f, "{}{unit}", self.0 / factor);
            }
        }
        write!(f, "{}", self.0)
    }
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer).map_err(|_| {
            serde::de::Error::custom(
                "a size must be a string such as \"100G\" or a number of bytes",
            )
        })? {
            Raw::Number(n) => Ok(Bytes(n)),
            Raw::Text(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

impl schemars::JsonSchema for Bytes {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Size".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A size such as \"512M\", \"100G\", \"2T\" (binary) or \"1.5TB\" (decimal)."
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_binary_and_decimal_units() {
        assert_eq!("512M".parse::<Bytes>(), Ok(Bytes(512 * MIB)));
        assert_eq!("2T".parse::<Bytes>(), Ok(Bytes(2 * 1024 * GIB)));
        assert_eq!("1.5TB".parse::<Bytes>(), Ok(Bytes(1_500_000_000_000)));
        assert_eq!("100 GiB".parse::<Bytes>(), Ok(Bytes(100 * GIB)));
        assert!("10 potatoes".parse::<Bytes>().is_err());
        assert!("G".parse::<Bytes>().is_err());
    }

    #[test]
    fn displays_exact_binary_or_decimal() {
        assert_eq!(Bytes(512 * MIB).to_string(), "512M");
        assert_eq!(Bytes(1000).to_string(), "1000");
        assert_eq!(Bytes(240_057_409_536).decimal(), "240.1 GB");
    }
}
