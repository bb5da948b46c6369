//! The answer server's `server.toml`: which machine is which (rules over
//! the facts a machine sends, with globs), the answer template each one
//! gets and the values it is filled with.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use glob::Pattern;
use serde::Deserialize;

use super::facts::Facts;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Config {
    /// A file (relative to the server's folder) whose first line is the
    /// bearer token every request must carry; none: no token.
    #[serde(default)]
    pub token_file: Option<String>,
    /// Tried in order; the first whose match holds answers.
    #[serde(default, rename = "machine")]
    pub machines: Vec<Machine>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Machine {
    /// How the log and the reports name it.
    pub name: String,
    /// An answer template in the server's `templates/` folder.
    pub template: String,
    #[serde(rename = "match")]
    pub matches: Match,
    /// What the template's `{{ key }}` placeholders become.
    #[serde(default)]
    pub values: toml::Table,
}

/// Every key given must hold (globs, case-insensitive); MAC and disk
/// serial hold when any NIC or disk has one that matches.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Match {
    pub mac: Option<String>,
    pub dmi_serial: Option<String>,
    pub disk_serial: Option<String>,
    pub product: Option<String>,
    pub vendor: Option<String>,
}

impl Config {
    pub fn load(path: &Path) -> Result<Config> {
        let text =
            fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let config: Config =
            toml::from_str(&text).with_context(|| format!("{}", path.display()))?;
        config
            .check()
            .with_context(|| format!("{}", path.display()))?;
        Ok(config)
    }

    fn check(&self) -> Result<()> {
        for (index, machine) in self.machines.iter().enumerate() {
            let at = format!("machine[{index}] ({})", machine.name);
            if !hearth_schema::validate::checks::is_name(&machine.name) {
                anyhow::bail!("{at}: name: allowed: lowercase letters, digits and dashes");
            }
            if machine.template.contains('/') || !machine.template.ends_with(".toml") {
                anyhow::bail!("{at}: template: allowed: a file name ending in .toml in templates/");
            }
            machine
                .matches
                .check()
                .with_context(|| format!("{at}: match"))?;
        }
        Ok(())
    }

    /// The first machine whose rules hold for `facts`.
    pub fn choose(&self, facts: &Facts) -> Option<&Machine> {
        self.machines.iter().find(|m| m.matches.holds(facts))
    }
}

impl Match {
    fn patterns(&self) -> [(&str, Option<&String>); 5] {
        [
            ("mac", self.mac.as_ref()),
            ("dmi-serial", self.dmi_serial.as_ref()),
            ("disk-serial", self.disk_serial.as_ref()),
            ("product", self.product.as_ref()),
            ("vendor", self.vendor.as_ref()),
        ]
    }

    fn check(&self) -> Result<()> {
        let given: Vec<_> = self
            .patterns()
            .into_iter()
            .filter(|(_, p)| p.is_some())
            .collect();
        if given.is_empty() {
            anyhow::bail!(
                "no rule: allowed keys: mac, dmi-serial, disk-serial, product, vendor (globs)"
            );
        }
        for (key, pattern) in given {
            let pattern = pattern.map(String::as_str).unwrap_or_default();
            Pattern::new(pattern).with_context(|| format!("{key} = {pattern:?} is not a glob"))?;
        }
        Ok(())
    }

    pub fn holds(&self, facts: &Facts) -> bool {
        let macs: Vec<&str> = facts.nics.iter().map(|n| n.mac.as_str()).collect();
        let serials: Vec<&str> = facts.disk_serials().collect();
        self.patterns().into_iter().all(|(key, pattern)| {
            let Some(pattern) = pattern else { return true };
            let values = match key {
                "mac" => macs.clone(),
                "disk-serial" => serials.clone(),
                "dmi-serial" => vec![facts.dmi.serial.as_str()],
                "product" => vec![facts.dmi.product.as_str()],
                _ => vec![facts.dmi.vendor.as_str()],
            };
            any_matches(pattern, &values)
        })
    }
}

fn any_matches(pattern: &str, values: &[&str]) -> bool {
    let Ok(glob) = Pattern::new(&pattern.to_lowercase()) else {
        return false;
    };
    values
        .iter()
        .any(|v| !v.is_empty() && glob.matches(&v.to_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::facts::{Dmi, Nic};

    fn facts(mac: &str, serial: &str) -> Facts {
        Facts {
            dmi: Dmi {
                serial: serial.into(),
                product: "Standard PC (Q35 + ICH9, 2009)".into(),
                ..Dmi::default()
            },
            nics: vec![Nic {
                name: "enp0s2".into(),
                mac: mac.into(),
                link: true,
            }],
            ..Facts::default()
        }
    }

    #[test]
    fn the_first_machine_whose_rules_all_hold_answers() {
        let config: Config = toml::from_str(
            r#"
[[machine]]
name = "nas"
template = "nas.toml"
match = { mac = "52:54:00:AA:*", product = "standard pc*" }

[[machine]]
name = "backup"
template = "backup.toml"
match = { dmi-serial = "BK-?" }
"#,
        )
        .expect("config");
        config.check().expect("valid");
        let name = |f: &Facts| config.choose(f).map(|m| m.name.clone());
        assert_eq!(
            name(&facts("52:54:00:aa:00:01", "x")).as_deref(),
            Some("nas")
        );
        assert_eq!(
            name(&facts("52:54:00:bb:00:01", "BK-1")).as_deref(),
            Some("backup")
        );
        assert_eq!(name(&facts("52:54:00:bb:00:01", "BK-12")), None);
    }

    #[test]
    fn a_machine_without_rules_or_with_a_bad_name_is_refused() {
        let empty: Config =
            toml::from_str("[[machine]]\nname = \"a\"\ntemplate = \"a.toml\"\nmatch = {}\n")
                .expect("parses");
        assert!(format!("{:#}", empty.check().expect_err("no rule")).contains("no rule"));
        let bad: Config = toml::from_str(
            "[[machine]]\nname = \"../a\"\ntemplate = \"a.toml\"\nmatch = { mac = \"*\" }\n",
        )
        .expect("parses");
        assert!(bad.check().is_err());
        assert!(toml::from_str::<Config>(
            "[[machine]]\nname = \"a\"\ntemplate = \"a.toml\"\nmatch = { colour = \"*\" }\n"
        )
        .is_err());
    }
}
