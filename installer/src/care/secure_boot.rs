//! Secure Boot in `hearth status`: the firmware's state and the keys that
//! sign kernel modules here, the build's (the image's zfs module) and the
//! machine's own (what DKMS rebuilds after a kernel update), each with
//! whether shim's MOK list holds it.

use serde::Serialize;

use super::probe::Probe;
use hearth_system::secure_boot::{self, State};

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct SecureBootStatus {
    pub state: String,
    pub keys: Vec<KeyStatus>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct KeyStatus {
    /// "build" or "machine".
    pub role: String,
    pub path: String,
    pub subject: String,
    pub sha256: String,
    /// None where mokutil cannot tell (no EFI variables).
    pub enrolled: Option<bool>,
}

/// The certificates this system has, by role.
pub fn certificates() -> [(&'static str, String); 2] {
    [
        (
            "build",
            format!("{}/{}", secure_boot::DIR, secure_boot::BUILD_CERT),
        ),
        ("machine", secure_boot::MACHINE_CERT.to_string()),
    ]
}

pub fn collect(probe: &dyn Probe, state: State) -> SecureBootStatus {
    let keys = certificates()
        .into_iter()
        .filter_map(|(role, path)| key(probe, role, &path))
        .collect();
    SecureBootStatus {
        state: state.word().into(),
        keys,
    }
}

fn key(probe: &dyn Probe, role: &str, path: &str) -> Option<KeyStatus> {
    let der = ["x509", "-inform", "DER", "-in", path, "-noout"];
    let subject = probe.run(
        "openssl",
        &[&der[..], &["-subject", "-nameopt", "RFC2253"]].concat(),
    )?;
    let fingerprint = probe.run(
        "openssl",
        &[&der[..], &["-fingerprint", "-sha256"]].concat(),
    )?;
    let tested = probe.output("mokutil", &["--test-key", path]);
    Some(KeyStatus {
        role: role.into(),
        path: path.into(),
        subject: after_equals(&subject),
        sha256: after_equals(&fingerprint).replace(':', "").to_lowercase(),
        enrolled: tested.and_then(|(_, said)| enrolled(&said)),
    })
}

/// openssl's "subject=CN=..." or "sha256 Fingerprint=AB:CD...".
fn after_equals(line: &str) -> String {
    line.trim()
        .split_once('=')
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default()
}

/// What `mokutil --test-key` said; a key whose enrolment waits for
/// MokManager is not enrolled yet.
fn enrolled(said: &str) -> Option<bool> {
    if said.contains("is already enrolled") {
        Some(true)
    } else if said.contains("is not enrolled") || said.contains("enrollment request") {
        Some(false)
    } else {
        None
    }
}

/// A key Secure Boot does not trust while it is on: modules it signed
/// will not load.
pub fn attention(status: &SecureBootStatus) -> Vec<(String, String)> {
    if status.state != State::Enabled.word() {
        return Vec::new();
    }
    status
        .keys
        .iter()
        .filter(|k| k.enrolled == Some(false))
        .map(|k| {
            (
                format!("secure-boot-{}-key", k.role),
                format!(
                    "Secure Boot is on but the {} key is not enrolled: modules it signs will not load (mokutil --import {}, then confirm in MokManager at the next boot)",
                    k.role, k.path
                ),
            )
        })
        .collect()
}

/// The table's lines.
pub fn table(status: &SecureBootStatus) -> String {
    let mut out = format!("\nSECURE BOOT: {}\n", status.state);
    for k in &status.keys {
        let enrolled = match k.enrolled {
            Some(true) => "enrolled",
            Some(false) => "NOT enrolled",
            None => "enrolment unknown",
        };
        out.push_str(&format!(
            "{} key: {} ({enrolled}), sha256 {}\n",
            k.role,
            k.subject,
            &k.sha256[..k.sha256.len().min(16)]
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    struct Said(BTreeMap<String, String>);

    impl Probe for Said {
        fn output(&self, program: &str, args: &[&str]) -> Option<(bool, String)> {
            let line = format!("{program} {}", args.join(" "));
            self.0.get(&line).map(|out| (true, out.clone()))
        }
    }

    #[test]
    fn each_key_by_role_with_its_enrolment() {
        let build = format!("{}/{}", secure_boot::DIR, secure_boot::BUILD_CERT);
        let der = format!("openssl x509 -inform DER -in {build} -noout");
        let said = Said(BTreeMap::from([
            (
                format!("{der} -subject -nameopt RFC2253"),
                "subject=CN=Hearth image build f1375a71\n".to_string(),
            ),
            (
                format!("{der} -fingerprint -sha256"),
                "sha256 Fingerprint=AB:CD:EF:01\n".to_string(),
            ),
            (
                format!("mokutil --test-key {build}"),
                format!("{build} is not enrolled\n"),
            ),
        ]));
        let status = collect(&said, State::Enabled);
        assert_eq!(
            status.keys.len(),
            1,
            "the machine has no key of its own yet"
        );
        let key = &status.keys[0];
        assert_eq!(
            (key.role.as_str(), key.subject.as_str(), key.sha256.as_str()),
            ("build", "CN=Hearth image build f1375a71", "abcdef01")
        );
        assert_eq!(key.enrolled, Some(false));
        let attention = attention(&status);
        assert_eq!(attention.len(), 1);
        assert!(attention[0].1.contains("mokutil --import"));
        assert!(table(&status).contains("build key: CN=Hearth image build f1375a71 (NOT enrolled)"));
        let off = SecureBootStatus {
            state: State::Disabled.word().into(),
            ..status
        };
        assert!(
            super::attention(&off).is_empty(),
            "nothing to do with it off"
        );
    }
}
