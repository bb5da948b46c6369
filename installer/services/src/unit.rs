//! Values written into systemd unit files. The checks keep quotes, `%`,
//! `$` and control characters out of them; these quote what remains (a
//! space) and escape the rest anyway, so a value is always one word.

/// One argument of `ExecStart=`: quoted when it holds a space; `\`, `"`,
/// `%` (specifiers) and `$` (variables) escaped.
pub fn arg(value: &str) -> String {
    let escaped = escape(value);
    if escaped.contains(' ') || escaped.is_empty() {
        format!("\"{escaped}\"")
    } else {
        escaped
    }
}

/// `Environment=` of one variable, quoted as one assignment.
pub fn environment(name: &str, value: &str) -> String {
    format!("Environment=\"{name}={}\"", escape(value))
}

fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '%' => out.push_str("%%"),
            '$' => out.push_str("$$"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32 & 0xff)),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_argument_stays_one_word() {
        assert_eq!(arg("/tank/Family Photos"), "\"/tank/Family Photos\"");
        assert_eq!(arg("rpool/home"), "rpool/home");
        assert_eq!(arg("a\nExecStartPost=x"), "a\\x0aExecStartPost=x");
        assert_eq!(arg("100% $HOME"), "\"100%% $$HOME\"");
    }
}
