//! The receive account's only way in. Its login shell is Hearth itself
//! (`receive-shell`), which runs nothing but the forced command of its
//! keys; that command lets through `zfs receive` into the account's
//! dataset, and the read-only `zfs list`/`zfs get` a sender asks first,
//! executed without a shell.

/// The account's login shell: a link to the hearth binary.
pub const SHELL: &str = "/usr/lib/hearth/receive-shell";
pub const HEARTH: &str = "/usr/bin/hearth";
const ZFS: &str = "/usr/sbin/zfs";

/// What each of the account's keys is forced to run.
pub fn forced_command(dataset: &str) -> String {
    format!("{HEARTH} receive-gate --dataset {dataset}")
}

/// An authorized_keys line: no pty, no forwarding, only the gate.
pub fn authorized_line(dataset: &str, key: &str) -> String {
    format!("restrict,command=\"{}\" {key}", forced_command(dataset))
}

/// The dataset of the forced command sshd hands the login shell
/// (`receive-shell -c "<forced command>"`); anything else is refused.
pub fn shell_dataset(args: &[String]) -> Result<String, String> {
    let [flag, command] = args else {
        return Err("this account runs only Hearth's receive gate".into());
    };
    let words: Vec<&str> = command.split(' ').collect();
    match (flag.as_str(), words.as_slice()) {
        ("-c", [HEARTH, "receive-gate", "--dataset", dataset]) => Ok(dataset.to_string()),
        _ => Err("this account runs only Hearth's receive gate".into()),
    }
}

/// The program and arguments a sender's command may run, or why not.
pub fn allowed(command: &str, dataset: &str) -> Result<Vec<String>, String> {
    let words = words(command)?;
    let refuse = || {
        Err(format!(
            "refused `{}`: this account may only `zfs receive` into {dataset} (and zfs list/get below it)",
            command.escape_debug()
        ))
    };
    let Some((program, rest)) = words.split_first() else {
        return refuse();
    };
    if program != "zfs" && program != ZFS {
        return refuse();
    }
    let Some((verb, args)) = rest.split_first() else {
        return refuse();
    };
    let ok = match verb.as_str() {
        "receive" | "recv" => receive_ok(args, dataset),
        "list" | "get" => read_ok(args, dataset),
        _ => false,
    };
    if !ok {
        return refuse();
    }
    Ok(std::iter::once(ZFS.to_string())
        .chain(rest.iter().cloned())
        .collect())
}

/// Flags that only shape how the stream lands; one target, below the
/// dataset (or the dataset itself as -d/-e's prefix).
fn receive_ok(args: &[String], dataset: &str) -> bool {
    const FLAGS: [&str; 8] = ["-u", "-F", "-s", "-v", "-n", "-e", "-d", "-A"];
    let (flags, targets): (Vec<&String>, Vec<&String>) =
        args.iter().partition(|a| a.starts_with('-'));
    let flags_ok = flags.iter().all(|f| {
        f.len() > 1
            && f[1..]
                .chars()
                .all(|c| FLAGS.contains(&format!("-{c}").as_str()))
    });
    let prefix = flags.iter().any(|f| f.contains('d') || f.contains('e'));
    flags_ok
        && targets.len() == 1
        && !targets[0].contains(['@', '#'])
        && (below(targets[0], dataset) || (prefix && targets[0] == dataset))
}

/// Read-only listing of the dataset's own tree: every name argument below it.
fn read_ok(args: &[String], dataset: &str) -> bool {
    let names: Vec<&String> = args
        .iter()
        .filter(|a| !a.starts_with('-') && (a.contains('/') || a.contains('@')))
        .collect();
    !names.is_empty()
        && names
            .iter()
            .all(|n| n.as_str() == dataset || below(n, dataset))
}

fn below(name: &str, dataset: &str) -> bool {
    let base = name.split(['@', '#']).next().unwrap_or(name);
    base.strip_prefix(dataset)
        .is_some_and(|rest| rest.is_empty() && name != base || rest.starts_with('/'))
        && !name.split('/').any(|part| part == ".." || part == ".")
}

/// Words as a shell would split them, quotes removed; anything a shell
/// would read as more than words (pipes, `;`, `$`, globs...) is refused.
pub fn words(command: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut word: Option<String> = None;
    let mut quote: Option<char> = None;
    for c in command.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), '$' | '`' | '\\') => return Err(format!("refused: `{c}` in a quoted word")),
            (Some(_), c) => word.get_or_insert_with(String::new).push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                word.get_or_insert_with(String::new);
            }
            (None, ' ' | '\t') => out.extend(word.take()),
            (None, c) if c.is_ascii_alphanumeric() || "-_./:@=,%+#".contains(c) => {
                word.get_or_insert_with(String::new).push(c)
            }
            (None, c) => {
                return Err(format!(
                    "refused: `{}` is not a plain word character",
                    c.escape_debug()
                ))
            }
        }
    }
    if quote.is_some() {
        return Err("refused: an unclosed quote".into());
    }
    out.extend(word);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DS: &str = "tank/backups/zfs";

    #[test]
    fn only_receive_below_the_dataset_passes() {
        let ok = allowed("zfs receive -u tank/backups/zfs/family", DS).expect("allowed");
        assert_eq!(
            ok,
            ["/usr/sbin/zfs", "receive", "-u", "tank/backups/zfs/family"]
        );
        assert!(allowed("zfs receive -s -F 'tank/backups/zfs/hearth/home'", DS).is_ok());
        assert!(allowed("zfs recv -d tank/backups/zfs", DS).is_ok());
        assert!(allowed("zfs get -H -o value name tank/backups/zfs/x", DS).is_ok());
        for bad in [
            "zfs receive -u tank/shares/not-yours",
            "zfs receive -u tank/backups/zfs",
            "zfs receive -u tank/backups/zfs2/x",
            "zfs receive -u tank/backups/zfs/../../shares",
            "zfs receive -o mountpoint=/etc tank/backups/zfs/x",
            "zfs destroy -r tank/backups/zfs/x",
            "zfs list",
            "sh -c id",
            "zfs receive tank/backups/zfs/x; id",
            "zfs receive tank/backups/zfs/x | id",
            "zfs receive \"tank/backups/zfs/$(id)\"",
            "zfs receive tank/backups/zfs/x\nid",
            "",
        ] {
            assert!(allowed(bad, DS).is_err(), "{bad:?} passed");
        }
    }

    #[test]
    fn the_shell_runs_only_the_forced_command() {
        let forced = vec!["-c".to_string(), forced_command(DS)];
        assert_eq!(shell_dataset(&forced).as_deref(), Ok(DS));
        assert!(shell_dataset(&["-c".into(), "/bin/sh".into()]).is_err());
        assert!(shell_dataset(&[]).is_err());
        assert!(authorized_line(DS, "ssh-ed25519 AAAA k").starts_with(
            "restrict,command=\"/usr/bin/hearth receive-gate --dataset tank/backups/zfs\" "
        ));
    }
}
