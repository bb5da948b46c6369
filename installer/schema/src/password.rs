//! Password hashes as the installed system stores them: SHA-512 crypt for
//! the account, the NT hash for Samba. The password itself is kept nowhere.

use anyhow::{anyhow, Result};

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
pub fn hash(password: &str) -> Result<String> {
    let params = sha_crypt::Sha512Params::new(100_000).map_err(|e| anyhow!("{e:?}"))?;
    sha_crypt::sha512_simple(password, &params).map_err(|e| anyhow!("{e:?}"))
}

#[cfg(test)]
mod tests {
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
