//! Answer templates: an answer file with `{{ key }}` placeholders where
//! values go. A value is written as a TOML value (a quoted string, an
//! array, an inline table), never pasted as text, so no value can add a
//! key or a table to the answer.

use toml::Value;

/// The template with each placeholder replaced; an unknown key or an
/// unclosed placeholder is refused, naming it.
pub fn fill(template: &str, values: &toml::Table, machine: &str) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("a placeholder is not closed: {}", snippet(&rest[start..])))?;
        let key = after[..end].trim();
        out.push_str(&value(key, values, machine)?);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn value(key: &str, values: &toml::Table, machine: &str) -> Result<String, String> {
    if key == "machine" {
        return Ok(Value::String(machine.into()).to_string());
    }
    match values.get(key) {
        Some(value) => Ok(inline(value)),
        None => Err(format!(
            "the template asks for `{}`, which this machine's values do not give",
            key.escape_debug()
        )),
    }
}

/// One line of TOML: tables inline.
fn inline(value: &Value) -> String {
    match value {
        Value::Table(table) => {
            let parts: Vec<String> = table
                .iter()
                .map(|(k, v)| format!("{} = {}", Value::String(k.clone()), inline(v)))
                .collect();
            format!("{{ {} }}", parts.join(", "))
        }
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(inline).collect();
            format!("[{}]", parts.join(", "))
        }
        other => other.to_string(),
    }
}

fn snippet(text: &str) -> String {
    text.chars()
        .take(40)
        .collect::<String>()
        .escape_debug()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> toml::Table {
        toml::from_str(text).expect("values")
    }

    #[test]
    fn values_are_written_as_toml_values() {
        let v = values(
            "hostname = \"nas-1\"\ndisks = { QM0001 = { wipe = true } }\nntp = [\"a\", \"b\"]\n",
        );
        let filled = fill(
            "hostname = {{ hostname }}\n# {{machine}}\ndisks = {{ disks }}\nntp = {{ntp}}\n",
            &v,
            "nas",
        )
        .expect("filled");
        assert_eq!(
            filled,
            "hostname = \"nas-1\"\n# \"nas\"\ndisks = { \"QM0001\" = { \"wipe\" = true } }\nntp = [\"a\", \"b\"]\n"
        );
        let parsed: toml::Table = toml::from_str(&filled).expect("valid TOML");
        assert_eq!(parsed["disks"]["QM0001"]["wipe"].as_bool(), Some(true));
    }

    #[test]
    fn a_value_cannot_add_keys_and_unknown_keys_are_refused() {
        let v = values("hostname = \"x\\\"\\nroot-password = \\\"\"\n");
        let filled = fill("hostname = {{ hostname }}\n", &v, "m").expect("filled");
        let parsed: toml::Table = toml::from_str(&filled).expect("valid TOML");
        assert_eq!(parsed.len(), 1, "{filled}");
        let err = fill("hostname = {{ name }}\n", &v, "m").expect_err("unknown");
        assert!(err.contains("`name`"), "{err}");
        assert!(fill("x = {{ hostname\n", &v, "m")
            .expect_err("open")
            .contains("not closed"));
    }
}
