//! Password hashes as the installed system stores them: SHA-512 crypt for
//! the account, the NT hash for Samba. The password itself is kept nowhere.

use std::fmt;

use anyhow::anyhow;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An account's password as a plan carries it: still to be asked, locked,
/// or a crypt hash. Written as the profile writes it ("ask", "locked",
/// the hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Password {
    Ask,
    Locked,
    Crypt(String),
    /// Set at install and kept only in /etc/shadow: what the installed
    /// system's copy of the plan says instead of the hash.
    Kept,
}

impl Password {
    /// The profile's or answer's value, already checked by `validate`.
    pub fn from_profile(value: &str) -> Password {
        match value {
            "ask" => Password::Ask,
            "locked" => Password::Locked,
            "kept" => Password::Kept,
            hash => Password::Crypt(hash.to_string()),
        }
    }

    /// What /etc/shadow gets: the hash, or "!" for no password.
    pub fn shadow(&self) -> &str {
        match self {
            Password::Crypt(hash) => hash,
            Password::Ask | Password::Locked | Password::Kept => "!",
        }
    }
}

impl fmt::Display for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Password::Ask => "ask",
            Password::Locked => "locked",
            Password::Kept => "kept",
            Password::Crypt(hash) => hash,
        })
    }
}

impl Serialize for Password {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Password {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Password, D::Error> {
        Ok(Password::from_profile(&String::deserialize(deserializer)?))
    }
}

/// The shortest password a person may type (Proxmox's installer asks the same).
pub const MIN_LENGTH: usize = 8;

/// Why a typed password is refused, if it is.
pub fn too_weak(password: &str) -> Option<String> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Some(format!(
            "too short: {length} characters; a password needs at least {MIN_LENGTH}"
        ));
    }
    if password.chars().all(|c| password.starts_with(c)) {
        return Some("one character repeated is not a password".into());
    }
    None
}

/// Samba's NT hash: MD4 of the UTF-16LE password, as 32 hex digits.
pub fn nt_hash(password: &str) -> String {
    use md4::{Digest, Md4};
    let utf16: Vec<u8> = password.encode_utf16().flat_map(u16::to_le_bytes).collect();
    Md4::digest(&utf16)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// SHA-512 crypt, which libxcrypt verifies.
pub fn hash(password: &str) -> anyhow::Result<String> {
    let params = sha_crypt::Sha512Params::new(100_000).map_err(|e| anyhow!("{e:?}"))?;
    sha_crypt::sha512_simple(password, &params).map_err(|e| anyhow!("{e:?}"))
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_typed_password_has_eight_characters_and_more_than_one() {
        assert!(too_weak("abc").is_some_and(|w| w.contains("at least 8")));
        assert!(too_weak("aaaaaaaaaa").is_some());
        assert_eq!(too_weak("correct horse"), None);
        assert_eq!(too_weak("ünïcödé!"), None, "characters, not bytes");
    }
    use super::*;

    #[test]
    fn nt_hash_is_md4_of_utf16le() {
        // The value every SMB implementation agrees on for "password".
        assert_eq!(nt_hash("password"), "8846F7EAEE8FB117AD06BDD830B7586C");
        assert_eq!(nt_hash(""), "31D6CFE0D16AE931B73C59D7E0C089C0");
    }

    #[test]
    fn crypt_hash_verifies() {
        let crypt = hash("correct horse").expect("hash");
        assert!(crypt.starts_with("$6$rounds=100000$"), "{crypt}");
        assert!(sha_crypt::sha512_check("correct horse", &crypt).is_ok());
    }
}
