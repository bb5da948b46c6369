//! TLS for the answer server and its clients: the server's certificate
//! (made on first start when none is given), its SHA-256 fingerprint, and
//! the client's check against a fingerprint given on the kernel command
//! line (a self-signed server needs no CA then, as Proxmox's
//! `--cert-fingerprint`).

use std::fs;
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{ring, verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// `ab:cd:...` (64 hex digits, colons optional) to lower-case hex.
pub fn parse_fingerprint(text: &str) -> Result<String> {
    let hex: String = text.chars().filter(|c| *c != ':').collect();
    if !hearth_schema::validate::checks::is_sha256(&hex) {
        bail!("`{text}` is not a SHA-256 fingerprint; allowed: 64 hexadecimal digits, colons between pairs optional");
    }
    Ok(hex.to_lowercase())
}

/// As `openssl x509 -fingerprint -sha256` prints it.
pub fn fingerprint(der: &[u8]) -> String {
    let hex = hearth_system::files::sha256(der).to_uppercase();
    hex.as_bytes()
        .chunks(2)
        .map(|pair| String::from_utf8_lossy(pair).into_owned())
        .collect::<Vec<_>>()
        .join(":")
}

/// The certificate and key in `dir` (cert.pem, key.pem), made self-signed
/// for `names` when absent. Returns the certificate's DER.
pub fn server_files(dir: &Path, names: &[String]) -> Result<Vec<u8>> {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    if !cert.is_file() {
        let made = rcgen::generate_simple_self_signed(names.to_vec())
            .context("making the answer server's certificate")?;
        fs::create_dir_all(dir)?;
        hearth_system::files::write_mode(&key, made.key_pair.serialize_pem().as_bytes(), 0o600)?;
        fs::write(&cert, made.cert.pem())?;
    }
    first_cert(&cert)
}

fn first_cert(path: &Path) -> Result<Vec<u8>> {
    let text = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let der = pem_certificate(&text)
        .with_context(|| format!("{}: no PEM certificate in it", path.display()))?;
    Ok(der)
}

/// The first CERTIFICATE block's bytes.
fn pem_certificate(pem: &[u8]) -> Option<Vec<u8>> {
    use base64::Engine;
    let text = String::from_utf8_lossy(pem);
    let body = text
        .split("-----BEGIN CERTIFICATE-----")
        .nth(1)?
        .split("-----END CERTIFICATE-----")
        .next()?;
    let joined: String = body.split_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(joined)
        .ok()
}

/// A client configuration that trusts exactly the certificate whose
/// SHA-256 is `pin` (lower-case hex), whatever its names or issuer.
pub fn pinned_client(pin: &str) -> Result<rustls::ClientConfig> {
    let provider = Arc::new(ring::default_provider());
    let verifier = Pinned {
        pin: pin.to_string(),
        provider: provider.clone(),
    };
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth())
}

#[derive(Debug)]
struct Pinned {
    pin: String,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let got = hearth_system::files::sha256(end_entity.as_ref());
        if got == self.pin {
            return Ok(ServerCertVerified::assertion());
        }
        Err(rustls::Error::General(format!(
            "the server's certificate has SHA-256 fingerprint {got}, the kernel command line pins {}",
            self.pin
        )))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_read_with_or_without_colons() {
        let hex = "AB".repeat(32);
        let colons = hex
            .as_bytes()
            .chunks(2)
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect::<Vec<_>>()
            .join(":");
        assert_eq!(parse_fingerprint(&colons).expect("colons"), "ab".repeat(32));
        assert_eq!(parse_fingerprint(&hex).expect("plain"), "ab".repeat(32));
        assert!(parse_fingerprint("abc").is_err());
        assert_eq!(
            parse_fingerprint(&fingerprint(b"x")).expect("own"),
            hearth_system::files::sha256(b"x")
        );
    }
}
