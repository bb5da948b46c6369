//! Alerts: one sender (`hearth alert`) for every source, so one setting
//! says where they go. ZED runs it as a zedlet, smartd through `-M exec`,
//! systemd as every service's OnFailure=, and `hearth-care.timer` hourly
//! for what nothing else reports (stale backups and snapshots). Mail goes
//! through msmtp to the profile's relay, webhooks over HTTP.
//!
//! ZED's own notifiers are configured in zed.rc, which a shell sources;
//! Hearth leaves it as shipped and adds a zedlet instead.

use serde::{Deserialize, Serialize};

use crate::profile::{Alerts, EmailAlerts, Profile, SmtpTls, WebhookKind};
use crate::{File, Mode, Service};

/// The sender's settings, read by `hearth alert` (root only: a token).
pub const CONFIG: &str = "/etc/hearth/alerts.json";
pub const MSMTPRC: &str = "/etc/msmtprc";
pub const ZEDLET: &str = "/etc/zfs/zed.d/all-hearth-alert.sh";
pub const SMARTD_HOOK: &str = "/usr/lib/hearth/smartd-alert";
const ON_FAILURE: &str = "/etc/systemd/system/service.d/10-hearth-alert.conf";
const TEMPLATE: &str = "/etc/systemd/system/hearth-alert@.service";
const NO_LOOP: &str = "/etc/systemd/system/hearth-alert@.service.d/10-hearth-alert.conf";
const CARE_SERVICE: &str = "/etc/systemd/system/hearth-care.service";
const CARE_TIMER: &str = "/etc/systemd/system/hearth-care.timer";

/// Where a secret of the answer goes in a planned file; the install
/// writes the value, the plan and its logs never hold it.
pub fn secret(name: &str) -> String {
    format!("@secret:{name}@")
}

pub const SMTP_PASSWORD: &str = "smtp-password";
pub const WEBHOOK_TOKEN: &str = "webhook-token";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Config {
    pub host: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookConfig>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct EmailConfig {
    pub to: Vec<String>,
    pub from: String,
    /// The relay, for messages about a failed send.
    pub relay: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct WebhookConfig {
    pub url: String,
    pub kind: WebhookKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

pub fn config(profile: &Profile) -> Config {
    let system = &profile.system;
    let fqdn = format!("{}.{}", system.hostname, system.domain);
    let alerts = &profile.alerts;
    Config {
        host: system.hostname.clone(),
        email: alerts.email.as_ref().map(|email| EmailConfig {
            to: email.to.clone(),
            from: sender(email, &fqdn),
            relay: format!("{}:{}", email.relay, email.port),
        }),
        webhook: alerts.webhook.as_ref().map(|hook| WebhookConfig {
            url: hook.url.clone(),
            kind: hook.kind,
            token: alerts.webhook_token.as_ref().map(|_| secret(WEBHOOK_TOKEN)),
        }),
    }
}

fn sender(email: &EmailAlerts, fqdn: &str) -> String {
    email.from.clone().unwrap_or_else(|| format!("root@{fqdn}"))
}

/// msmtp's system configuration: one account, the relay's. Values are
/// checked (addresses, host, login, password without `"` or `\`), and
/// each is one word or quoted.
pub fn msmtprc(alerts: &Alerts, fqdn: &str) -> Option<String> {
    let email = alerts.email.as_ref()?;
    let (tls, starttls) = match email.tls {
        SmtpTls::Starttls => ("on", "on"),
        SmtpTls::Tls => ("on", "off"),
        SmtpTls::Off => ("off", "off"),
    };
    let mut out = format!(
        "# Written by the Hearth installer from [alerts.email]; root only.\n\
         defaults\n\
         tls {tls}\n\
         tls_starttls {starttls}\n\
         tls_trust_file /etc/ssl/certs/ca-certificates.crt\n\
         syslog LOG_MAIL\n\n\
         account hearth\n\
         host {}\n\
         port {}\n\
         from {}\n",
        email.relay,
        email.port,
        sender(email, fqdn)
    );
    // msmtp refuses plain-text logins without TLS unless told the method:
    // with tls = "off" the admin chose a relay on the local network.
    let method = match email.tls {
        SmtpTls::Off => "plain",
        _ => "on",
    };
    match &email.user {
        Some(user) => out.push_str(&format!(
            "auth {method}\nuser {user}\npassword \"{}\"\n",
            secret(SMTP_PASSWORD)
        )),
        None => out.push_str("auth off\n"),
    }
    out.push_str("\naccount default : hearth\n");
    Some(out)
}

/// ZED runs every executable in zed.d whose name starts with `all-` for
/// each event, with the event in ZEVENT_* variables.
const ZEDLET_TEXT: &str = "#!/bin/sh\n# Hearth: ZFS events to `hearth alert` (pool faults, resilver, scrub, errors).\nexec /usr/bin/hearth alert zevent\n";
const SMARTD_TEXT: &str = "#!/bin/sh\n# Hearth: smartd's warnings (-M exec) to `hearth alert`.\nexec /usr/bin/hearth alert smartd\n";

const TEMPLATE_TEXT: &str = "# Written by the Hearth installer: a failed unit's alert.\n\
[Unit]\n\
Description=Hearth alert: %i failed\n\n\
[Service]\n\
Type=oneshot\n\
ExecStart=/usr/bin/hearth alert unit-failed %i\n";

const CARE_SERVICE_TEXT: &str = "# Written by the Hearth installer: what no event reports.\n\
[Unit]\n\
Description=Hearth: check pools, disks, backups and snapshots; alert on what changed (hearth status --alert)\n\
After=zfs-mount.service\n\n\
[Service]\n\
Type=oneshot\n\
ExecStart=/usr/bin/hearth status --alert\n\
# status exits 1 when something needs attention: reported, not a failure.\n\
SuccessExitStatus=1\n";

/// Alerts from ZFS, SMART, failed units and stale backups.
pub struct AlertSender;

impl Service for AlertSender {
    fn units(&self, _profile: &Profile) -> Vec<String> {
        vec!["hearth-care.timer".into()]
    }

    fn files(&self, profile: &Profile) -> Vec<File> {
        let config = serde_json::to_string_pretty(&config(profile)).unwrap_or_default();
        let executable = |path: &str, text: &str| File {
            path: path.into(),
            mode: Mode::new(0o755).unwrap_or(Mode::PUBLIC),
            content: text.into(),
        };
        let mut files = vec![
            File::private(CONFIG, config + "\n"),
            executable(ZEDLET, ZEDLET_TEXT),
            executable(SMARTD_HOOK, SMARTD_TEXT),
            File::public(ON_FAILURE, "# Written by the Hearth installer: every failed service raises an alert.\n[Unit]\nOnFailure=hearth-alert@%n.service\n"),
            File::public(TEMPLATE, TEMPLATE_TEXT),
            File::public(NO_LOOP, "# An alert that fails raises none.\n[Unit]\nOnFailure=\n"),
            File::public(CARE_SERVICE, CARE_SERVICE_TEXT),
            File::public(
                CARE_TIMER,
                crate::timer::timer_unit("[alerts]", "Hearth status check", "hourly", "5min"),
            ),
        ];
        let fqdn = format!("{}.{}", profile.system.hostname, profile.system.domain);
        if let Some(rc) = msmtprc(&profile.alerts, &fqdn) {
            files.push(File::private(MSMTPRC, rc));
        }
        files
    }
}
