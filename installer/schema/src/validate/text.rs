//! The grammars of the strings that land in generated files. Each rule is
//! said once here, in the words a message and the reference use; the
//! renderers rely on it (a value passing these holds no newline, no quote
//! and nothing a config format would read as a directive).

use std::path::Path;

pub const PATH_RULE: &str = "must be an absolute path whose parts hold letters, digits, spaces and . _ - + @ only, with no empty, `.` or `..` part and no part beginning or ending with a space";

/// A path every renderer can write: absolute, normalised (no `.`, `..`,
/// `//` or trailing `/`), and of a small alphabet: no quote, `%`, `$`, `\`,
/// `#`, `;`, `,` or control character.
pub fn is_path(path: &Path) -> bool {
    let Some(text) = path.to_str() else {
        return false;
    };
    if !text.starts_with('/') || (text.len() > 1 && text.ends_with('/')) || text.len() > 1024 {
        return false;
    }
    text == "/" || text[1..].split('/').all(is_path_part)
}

fn is_path_part(part: &str) -> bool {
    !part.is_empty()
        && part != "."
        && part != ".."
        && !part.starts_with(' ')
        && !part.ends_with(' ')
        && part
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " ._-+@".contains(c))
}

/// A path outside the folders the OS owns: data never goes into /etc,
/// /usr, /boot, /dev, /proc, /sys or /run, nor is / itself a share.
pub fn is_system_path(path: &Path) -> bool {
    const OWNED: [&str; 11] = [
        "/etc", "/usr", "/boot", "/dev", "/proc", "/sys", "/run", "/bin", "/sbin", "/lib", "/lib64",
    ];
    path == Path::new("/") || OWNED.iter().any(|dir| path.starts_with(dir))
}

/// A DNS label: 1 to 63 letters, digits or inner dashes.
pub fn is_hostname(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 63
        && !text.starts_with('-')
        && !text.ends_with('-')
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

pub const DOMAIN_RULE: &str =
    "must be DNS labels (letters, digits, inner dashes; 1 to 63 each) joined by dots, at most 253 characters, e.g. home.arpa";

pub fn is_domain(text: &str) -> bool {
    !text.is_empty() && text.len() <= 253 && text.split('.').all(is_hostname)
}

/// A host clients dial: a DNS name, or an IPv4 or IPv6 address.
pub fn is_host(text: &str) -> bool {
    text.parse::<std::net::IpAddr>().is_ok() || is_domain(text)
}

pub const KEYMAP_RULE: &str =
    "must be XKB layout names (lowercase letters, digits, _ or -), comma-separated, e.g. us or de,us";

pub fn is_keymap(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text.split(',').all(|layout| {
            !layout.is_empty()
                && layout
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-".contains(c))
        })
}

pub const SHARE_RULE: &str = "must be 1 to 28 letters, digits, spaces and - _ . (not starting or ending with a space; its Unix group is smb-<name>, at most 32 characters), and not global, homes, printers, print$ or ipc$";

/// An smb.conf section name a client can type.
pub fn is_share_name(text: &str) -> bool {
    let reserved = ["global", "homes", "printers", "print$", "ipc$"];
    !text.is_empty()
        && text.len() <= 28
        && !text.starts_with(' ')
        && !text.ends_with(' ')
        && !reserved.contains(&text.to_ascii_lowercase().as_str())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " -_.".contains(c))
}

pub const WORKGROUP_RULE: &str =
    "must be a NetBIOS name: 1 to 15 letters, digits, - or _, e.g. WORKGROUP";

pub fn is_workgroup(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 15
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
}

pub const APP_RULE: &str =
    "must be 1 to 63 lowercase letters, digits, - or _, starting with a letter or digit (a compose project name)";

/// A compose project name, also a unit instance and a folder name.
pub fn is_app_name(text: &str) -> bool {
    let mut chars = text.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && text.len() <= 63
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_".contains(c))
}

pub const GUEST_RULE: &str =
    "must be 1 to 63 letters, digits or dashes, starting with a letter and not ending with a dash";

pub fn is_guest_name(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_alphabetic()) && is_hostname(text)
}

pub const DATASET_RULE: &str =
    "must be pool/name[/name...]: parts of letters, digits, - _ . or :, not starting with - or .";

/// A ZFS dataset name as Hearth writes one: `pool/a/b`.
pub fn is_dataset(text: &str) -> bool {
    text.len() <= 200 && text.contains('/') && text.split('/').all(is_dataset_part)
}

pub fn is_dataset_part(part: &str) -> bool {
    !part.is_empty()
        && !part.starts_with(['-', '.'])
        && part
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
}

/// No control character (newline, carriage return, NUL, escape...).
pub fn is_one_line(text: &str) -> bool {
    !text.chars().any(char::is_control)
}

pub const REPOSITORY_RULE: &str = "must be a restic repository on one line without spaces or quotes: an absolute path, rest:http(s)://host[:port]/path, s3:https://host/bucket[/path] or s3:host/bucket, sftp:user@host:/path, b2:bucket:path, azure:container:/path, gs:bucket:/path, swift:container:/path or rclone:remote:path";

/// A restic repository string, by its scheme.
pub fn is_repository(text: &str) -> bool {
    let alphabet = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._~:/?@%+=,-[]".contains(c));
    if text.len() > 512 || !alphabet {
        return false;
    }
    if text.starts_with('/') {
        return is_path(Path::new(text));
    }
    let Some((scheme, rest)) = text.split_once(':') else {
        return false;
    };
    match scheme {
        "rest" => is_http_url(rest),
        "s3" => {
            is_http_url(rest)
                || rest
                    .split_once('/')
                    .is_some_and(|(host, bucket)| is_domain(host) && !bucket.is_empty())
        }
        "sftp" => {
            rest.split_once(':').is_some_and(|(login, path)| {
                let host = login.rsplit_once('@').map_or(login, |(_, host)| host);
                is_host(host) && !path.is_empty()
            }) || rest.strip_prefix("//").is_some_and(|r| !r.is_empty())
        }
        "b2" | "azure" | "gs" | "swift" | "rclone" => {
            rest.split_once(':').is_some_and(|(bucket, _)| {
                !bucket.is_empty()
                    && bucket
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            })
        }
        _ => false,
    }
}

/// `http://host[:port][/path]` or https, the host a name or an address
/// (IPv6 in brackets).
pub fn is_http_url(text: &str) -> bool {
    let Some(rest) = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
    else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = match host_port.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((addr, port)) => (addr, port.strip_prefix(':')),
            None => return false,
        },
        None => match host_port.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        },
    };
    let host_ok = if host_port.starts_with('[') {
        host.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        host.parse::<std::net::Ipv4Addr>().is_ok() || is_domain(host)
    };
    host_ok && port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normal_and_plain() {
        assert!(is_path(Path::new("/tank/shares/Family Photos")));
        assert!(is_path(Path::new("/")));
        for bad in [
            "tank",
            "/tank/../etc",
            "/tank/./x",
            "/tank//x",
            "/tank/x/",
            "/tank/a\nb",
            "/tank/$(id)",
            "/tank/100%",
            "/tank/ x",
            "/tank/a\"b",
        ] {
            assert!(!is_path(Path::new(bad)), "{bad:?}");
        }
        assert!(is_system_path(Path::new("/etc/ssh")));
        assert!(!is_system_path(Path::new("/srv/etc")));
    }

    #[test]
    fn names_keep_to_their_alphabets() {
        assert!(is_share_name("Family Photos"));
        assert!(!is_share_name("GLOBAL"));
        assert!(!is_share_name("x]\nroot preexec = id"));
        assert!(is_keymap("de,us"));
        assert!(!is_keymap("us\"; id; \""));
        assert!(is_app_name("nextcloud"));
        assert!(!is_app_name("../../sudoers.d/x"));
        assert!(is_dataset("tank/backups/zfs"));
        assert!(!is_dataset("tank/../x"));
        assert!(is_host("2001:db8::1") && is_host("vpn.example.org"));
        assert!(!is_host("vpn.example.org\nPostUp = id"));
        assert!(is_repository("rest:http://127.0.0.1:8000/laptop/hearth"));
        assert!(is_repository("b2:bucket:hearth") && is_repository("/srv/restic"));
        assert!(is_repository("rest:https://[2001:db8::1]:8000/x"));
        assert!(!is_repository("rest:http://x/$(id)"));
        assert!(!is_repository("s3:x\nRESTIC_PASSWORD_FILE=/dev/null"));
    }
}
