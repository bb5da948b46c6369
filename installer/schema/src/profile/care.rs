//! Day-two care: where alerts go, and how the server updates itself.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where the server says that something needs a person: pool faults,
/// resilver and scrub results, SMART failures, failed units, stale
/// backups and snapshots. `hearth alert-test` sends a test message.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Alerts {
    /// Mail through an SMTP relay (msmtp). Its password comes from the
    /// answer's `smtp-password`, never from a profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailAlerts>,
    /// An HTTP POST per alert. A token comes from the answer's
    /// `webhook-token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<Webhook>,
    /// From the answer only: a secret has no place in a shared profile.
    #[serde(skip)]
    #[schemars(skip)]
    pub smtp_password: Option<String>,
    #[serde(skip)]
    #[schemars(skip)]
    pub webhook_token: Option<String>,
}

impl Alerts {
    pub fn any(&self) -> bool {
        self.email.is_some() || self.webhook.is_some()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct EmailAlerts {
    /// Addresses the alerts go to.
    pub to: Vec<String>,
    /// Sender address; default: root@<the server's FQDN>.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The SMTP relay's host name or address.
    pub relay: String,
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    #[serde(default)]
    pub tls: SmtpTls,
    /// Login at the relay; needs the answer's `smtp-password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: a relay on the local network only.
    Off,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Webhook {
    /// http:// or https:// URL the alert is posted to (for ntfy, the
    /// topic's URL; for Gotify, the server's URL).
    pub url: String,
    #[serde(default)]
    pub kind: WebhookKind,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum WebhookKind {
    /// ntfy: the message as the body, the title and priority as headers.
    Ntfy,
    /// Gotify: JSON to <url>/message with the token as X-Gotify-Key.
    Gotify,
    /// A JSON object: host, severity, title, message, source, time.
    #[default]
    Json,
}

/// How the server's packages stay current.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Updates {
    /// What unattended-upgrades installs by itself.
    #[serde(default)]
    pub automatic: AutomaticUpdates,
    /// "never", or the time (HH:MM) at which the server restarts when an
    /// update needs it.
    #[serde(default = "never")]
    pub reboot: String,
    /// The Debian archive; default: the mirror the ISO was built from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<String>,
    /// The security archive; default: the one the ISO was built from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_mirror: Option<String>,
    /// An ASCII-armoured OpenPGP public key that signs these mirrors,
    /// for a mirror of one's own; default: Debian's archive keyring.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_by: Option<String>,
}

impl Default for Updates {
    fn default() -> Self {
        Updates {
            automatic: AutomaticUpdates::default(),
            reboot: never(),
            mirror: None,
            security_mirror: None,
            signed_by: None,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum AutomaticUpdates {
    /// Security updates only.
    #[default]
    Security,
    /// Security and stable point-release updates.
    Stable,
    /// None: `hearth status` lists what is pending.
    Off,
}

fn default_smtp_port() -> u16 {
    587
}

fn never() -> String {
    "never".into()
}

/// Boot environments: the system is a dataset under `<root pool>/ROOT/`;
/// `hearth upgrade` upgrades a clone of it and boots that next, and every
/// apt run snapshots the running one first. Data (home, docker, the data
/// pools, every profile dataset) lives outside and is never rolled back.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct BootEnvironments {
    /// Environments kept (1 to 20); `hearth upgrade` destroys the oldest
    /// beyond this, never the running, the default or the fallback one.
    #[serde(default = "default_keep")]
    pub keep: u32,
    /// Snapshots taken before apt runs kept per environment (0 to 100),
    /// the oldest destroyed first.
    #[serde(default = "default_snapshots")]
    pub snapshots: u32,
    /// Minutes a newly upgraded environment has to reach multi-user
    /// (1 to 120) before the server restarts into the previous one.
    #[serde(default = "default_fallback_minutes")]
    pub fallback_minutes: u32,
}

impl Default for BootEnvironments {
    fn default() -> Self {
        BootEnvironments {
            keep: default_keep(),
            snapshots: default_snapshots(),
            fallback_minutes: default_fallback_minutes(),
        }
    }
}

fn default_keep() -> u32 {
    3
}
fn default_snapshots() -> u32 {
    10
}
fn default_fallback_minutes() -> u32 {
    10
}
