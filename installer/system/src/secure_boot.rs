//! Secure Boot: where Hearth keeps its certificates, and what the firmware
//! says of its state.

use std::path::Path;

/// The build's certificate (public) in every image, and its name on the
/// ISO and on every ESP.
pub const DIR: &str = "/usr/share/hearth/secureboot";
pub const BUILD_CERT: &str = "hearth-build.der";
/// The machine's own DKMS signing key and certificate, made at install.
pub const MACHINE_KEY: &str = "/var/lib/dkms/mok.key";
pub const MACHINE_CERT: &str = "/var/lib/dkms/mok.pub";

/// `openssl`'s arguments that make a module-signing key (PEM, at `key`)
/// and its self-signed certificate (DER, at `cert`, as DKMS, mokutil and
/// MokManager take it), valid for a century: a MOK has no expiry check.
pub fn new_key_args(subject: &str, key: &str, cert: &str) -> Vec<String> {
    [
        "req",
        "-new",
        "-x509",
        "-nodes",
        "-newkey",
        "rsa:2048",
        "-sha256",
        "-days",
        "36500",
        "-subj",
        subject,
        "-addext",
        "extendedKeyUsage=codeSigning",
        "-keyout",
        key,
        "-outform",
        "DER",
        "-out",
        cert,
    ]
    .map(String::from)
    .to_vec()
}

/// The CN in what `openssl x509 -noout -subject -nameopt multiline`
/// prints: what `modinfo -F signer` names a module's signer by.
pub fn common_name(subject: &str) -> Option<String> {
    subject
        .lines()
        .find_map(|l| l.trim().strip_prefix("commonName"))
        .and_then(|l| l.trim().strip_prefix('='))
        .map(|cn| cn.trim().to_string())
}

/// The firmware's SecureBoot variable (EFI global variable GUID).
const VARIABLE: &str = "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Enabled,
    Disabled,
    /// Booted by BIOS (or EFI without the variable).
    NoEfi,
}

impl State {
    pub fn word(self) -> &'static str {
        match self {
            State::Enabled => "enabled",
            State::Disabled => "disabled",
            State::NoEfi => "no-efi",
        }
    }
}

/// The state of the machine this runs on.
pub fn state() -> State {
    state_from(Path::new(VARIABLE))
}

/// efivarfs gives four attribute bytes, then the value: 1 is on.
fn state_from(variable: &Path) -> State {
    match std::fs::read(variable) {
        Ok(bytes) if bytes.get(4) == Some(&1) => State::Enabled,
        Ok(_) => State::Disabled,
        Err(_) => State::NoEfi,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_common_name_comes_out_of_the_subject() {
        let subject = "subject=\n    commonName                = Hearth image build f1375a71\n";
        assert_eq!(
            common_name(subject).as_deref(),
            Some("Hearth image build f1375a71")
        );
        assert_eq!(common_name("subject=\n    organizationName = x\n"), None);
    }

    #[test]
    fn the_fifth_byte_says_on_or_off() {
        let dir = std::env::temp_dir().join(format!("hearth-sb-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let var = dir.join("SecureBoot");
        std::fs::write(&var, [6, 0, 0, 0, 1]).expect("var");
        let on = state_from(&var);
        std::fs::write(&var, [6, 0, 0, 0, 0]).expect("var");
        let off = state_from(&var);
        std::fs::remove_dir_all(&dir).expect("dir");
        assert_eq!(
            (on, off, state_from(&dir.join("none"))),
            (State::Enabled, State::Disabled, State::NoEfi)
        );
    }
}
