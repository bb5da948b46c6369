//! Small predicates over the strings a profile holds.

pub use super::text::is_hostname;
use super::Finding;
use crate::keypath::KeyPath;

#[derive(Default)]
pub struct Findings(pub Vec<Finding>);

impl Findings {
    pub fn push(&mut self, key: KeyPath, message: impl Into<String>) {
        self.0.push(Finding {
            key,
            message: message.into(),
        });
    }
}

pub const HOSTNAME_RULE: &str =
    "must be 1 to 63 letters, digits or dashes, not starting or ending with a dash";

pub fn is_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

pub fn is_username(text: &str) -> bool {
    let mut chars = text.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && text.len() <= 32
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

pub fn is_timezone(text: &str) -> bool {
    text == "UTC"
        || (text.contains('/')
            && !text.starts_with('/')
            && !text.contains("..")
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/_+-".contains(c)))
}

pub fn is_locale(text: &str) -> bool {
    let Some((lang, codeset)) = text.split_once('.') else {
        return false;
    };
    matches!(codeset, "UTF-8" | "utf8")
        && (lang == "C"
            || (lang.len() >= 5
                && lang
                    .chars()
                    .all(|c| c.is_ascii_alphabetic() || c == '_' || c == '@')))
}

pub fn is_ifname(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 15
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

pub fn is_interface_match(text: &str) -> bool {
    if text == "first-with-link" {
        return true;
    }
    if let Some(glob) = text.strip_prefix("name:") {
        // networkd's Name= takes a space-separated list: one glob, no spaces.
        let alphabet = glob
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:*?[]!".contains(c));
        return !glob.is_empty()
            && glob.len() <= 64
            && alphabet
            && glob::Pattern::new(glob).is_ok();
    }
    if let Some(mac) = text.strip_prefix("mac:") {
        let parts: Vec<&str> = mac.split(':').collect();
        return parts.len() == 6
            && parts
                .iter()
                .all(|p| p.len() == 2 && u8::from_str_radix(p, 16).is_ok());
    }
    false
}

/// "address/prefix" with a valid prefix for the address family.
pub fn is_cidr(text: &str) -> bool {
    let Some((addr, prefix)) = text.split_once('/') else {
        return false;
    };
    let Ok(prefix) = prefix.parse::<u8>() else {
        return false;
    };
    match addr.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => prefix <= 32,
        Ok(std::net::IpAddr::V6(_)) => prefix <= 128,
        Err(_) => false,
    }
}

/// A network, an address, or a host name (as exports(5) and nftables take them).
pub fn is_client(text: &str) -> bool {
    is_cidr(text) || text.parse::<std::net::IpAddr>().is_ok() || text.split('.').all(is_hostname)
}

/// The crypt(5) hash formats Debian's libxcrypt verifies.
pub fn is_crypt_hash(text: &str) -> bool {
    let prefixes = ["$y$", "$gy$", "$7$", "$2b$", "$6$", "$5$"];
    prefixes.iter().any(|p| text.starts_with(p))
        && text.len() >= 20
        && text.len() <= 512
        // crypt(5)'s alphabet: no ':' (it would split a shadow line).
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "./$=,".contains(c))
}

pub fn is_ssh_key(text: &str) -> bool {
    let types = [
        "ssh-ed25519",
        "ssh-rsa",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
    ];
    // One line of authorized_keys, with no options before the type.
    if !super::text::is_one_line(text) || text.len() > 16 * 1024 {
        return false;
    }
    let mut parts = text.split_whitespace();
    let (Some(kind), Some(body)) = (parts.next(), parts.next()) else {
        return false;
    };
    types.contains(&kind) && body.len() >= 60 && is_base64(body)
}

pub fn is_sha256(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

pub fn is_base64(text: &str) -> bool {
    let trimmed = text.trim_end_matches('=');
    text.len().is_multiple_of(4)
        && text.len() - trimmed.len() <= 2
        && trimmed
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '/')
}

/// WireGuard keys are 32 bytes in base64: 44 characters ending in '='.
pub fn is_wireguard_key(text: &str) -> bool {
    text.len() == 44 && text.ends_with('=') && is_base64(text)
}

/// A profile password: a hash, "ask" or "locked".
pub fn password(out: &mut Findings, key: KeyPath, value: &str) {
    if value != "ask" && value != "locked" && !is_crypt_hash(value) {
        out.push(key, PASSWORD_RULE);
    }
}

/// An answer password: a hash, or "locked"; the answer is where "ask" is
/// resolved, so it cannot say "ask" again.
pub fn hash_only(out: &mut Findings, key: KeyPath, value: &str) {
    if value != "locked" && !is_crypt_hash(value) {
        out.push(key, "must be a crypt hash ($y$..., $6$...), made with `mkpasswd -m yescrypt`, or \"locked\"; plain text is never accepted");
    }
}

const PASSWORD_RULE: &str = "must be a crypt hash ($y$..., $6$..., made with `mkpasswd -m yescrypt`), \"ask\" or \"locked\"; plain text is never accepted";

pub fn ssh_keys(out: &mut Findings, key: KeyPath, keys: &[String]) {
    for (i, ssh_key) in keys.iter().enumerate() {
        if !is_ssh_key(ssh_key) {
            out.push(
                key.index(i),
                "not an OpenSSH public key on one line (\"ssh-ed25519 AAAA... comment\"), with no options before it",
            );
        }
    }
}

pub fn list(items: &[&str]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_the_formats() {
        assert!(is_cidr("192.168.1.10/24"));
        assert!(!is_cidr("192.168.1.10/33"));
        assert!(is_interface_match("mac:52:54:00:12:34:56"));
        assert!(!is_interface_match("eth0"));
        assert!(is_wireguard_key(
            "YAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk="
        ));
        assert!(is_crypt_hash(
            "$y$j9T$abcdefghijklmnop$qrstuvwxyz0123456789ABCDEFGHIJ"
        ));
        assert!(!is_crypt_hash("hunter2"));
        assert!(is_locale("en_US.UTF-8"));
        assert!(is_timezone("Europe/Brussels"));
        assert!(!is_timezone("Mars"));
    }
}
