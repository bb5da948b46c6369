//! Checks of the day-two settings: alert receivers, update mirrors, NTP
//! servers, scrub and trim schedules. Each value lands in a file with a
//! grammar (msmtprc, deb822, timesyncd.conf, a timer) or a request line.

use super::{calendar, checks::Findings, text};
use crate::answer::Answer;
use crate::keypath::KeyPath;
use crate::profile::{Alerts, Profile, Updates};

pub const EMAIL_RULE: &str =
    "must be an address such as admin@example.org: letters, digits and . _ + - before the @, a DNS name after it";
pub const URL_RULE: &str =
    "must be an http:// or https:// URL with a host name or address, without spaces, quotes or backslashes";
pub const SCHEDULE_RULE: &str =
    "must be \"weekly\", \"monthly\", \"off\" or a systemd calendar event such as \"Sun *-*-01..07 03:00\"";
pub const SECRET_RULE: &str =
    "must be one line of printable characters without \" or \\ (msmtprc and HTTP headers carry it as is)";
const KEY_BEGIN: &str = "-----BEGIN PGP PUBLIC KEY BLOCK-----";
const KEY_END: &str = "-----END PGP PUBLIC KEY BLOCK-----";

pub fn profile(out: &mut Findings, profile: &Profile) {
    let top = KeyPath::root();
    alerts(out, &top.key("alerts"), &profile.alerts);
    updates(out, &top.key("updates"), &profile.updates);
    ntp(out, &top.key("system").key("ntp"), &profile.system.ntp);
    for (i, pool) in profile.storage.pools.iter().enumerate() {
        let at = top.key("storage").key("pools").index(i);
        if !is_schedule(&pool.scrub) {
            out.push(at.key("scrub"), SCHEDULE_RULE);
        }
        if pool.trim.as_deref().is_some_and(|t| !is_schedule(t)) {
            out.push(at.key("trim"), SCHEDULE_RULE);
        }
    }
}

/// The answer's own day-two values, and the secrets only it may give.
pub fn answer(out: &mut Findings, answer: &Answer, profile: &Profile) {
    let top = KeyPath::root();
    if let Some(given) = &answer.alerts {
        alerts(out, &top.key("alerts"), given);
    }
    if let Some(given) = &answer.updates {
        updates(out, &top.key("updates"), given);
    }
    if let Some(given) = &answer.ntp {
        ntp(out, &top.key("ntp"), given);
    }
    let alerts = answer.alerts.as_ref().unwrap_or(&profile.alerts);
    let login = alerts.email.as_ref().and_then(|e| e.user.as_ref());
    match (&answer.smtp_password, login) {
        (Some(secret), Some(_)) if !is_secret(secret) => {
            out.push(top.key("smtp-password"), SECRET_RULE);
        }
        (Some(_), None) => out.push(
            top.key("smtp-password"),
            "given without [alerts.email] user: the relay takes no login",
        ),
        (None, Some(_)) => out.push(
            top.key("smtp-password"),
            "[alerts.email] user logs in at the relay: give its password here",
        ),
        _ => {}
    }
    if let Some(report) = &answer.report {
        report_to(out, &top.key("report"), report);
    }
    if let Some(token) = &answer.webhook_token {
        if alerts.webhook.is_none() {
            out.push(top.key("webhook-token"), "given without [alerts.webhook]");
        } else if !is_secret(token) || token.contains(' ') {
            out.push(top.key("webhook-token"), SECRET_RULE);
        }
    }
}

/// The install report's receiver: a URL, a header-safe token, a fingerprint.
fn report_to(out: &mut Findings, key: &KeyPath, report: &crate::answer::ReportTo) {
    if !is_url(&report.url) {
        out.push(key.key("url"), URL_RULE);
    }
    if let Some(token) = &report.token {
        if !is_secret(token) || token.contains(' ') {
            out.push(key.key("token"), SECRET_RULE);
        }
    }
    if let Some(pin) = &report.fingerprint {
        let hex: String = pin.chars().filter(|c| *c != ':').collect();
        if !super::checks::is_sha256(&hex) {
            out.push(key.key("fingerprint"), "must be a SHA-256 fingerprint: 64 hexadecimal digits, colons between pairs optional");
        }
    }
}

fn alerts(out: &mut Findings, key: &KeyPath, alerts: &Alerts) {
    if let Some(email) = &alerts.email {
        let at = key.key("email");
        if email.to.is_empty() {
            out.push(at.key("to"), "name at least one address");
        }
        for (i, address) in email.to.iter().enumerate() {
            if !is_email(address) {
                out.push(at.key("to").index(i), EMAIL_RULE);
            }
        }
        if email.from.as_deref().is_some_and(|f| !is_email(f)) {
            out.push(at.key("from"), EMAIL_RULE);
        }
        if !text::is_host(&email.relay) {
            out.push(at.key("relay"), "must be a host name or an IP address");
        }
        if email.port == 0 {
            out.push(at.key("port"), "must be a TCP port, 1 to 65535");
        }
        if email.user.as_deref().is_some_and(|u| !is_login(u)) {
            out.push(
                at.key("user"),
                "must be 1 to 128 letters, digits and . _ + - @",
            );
        }
    }
    if let Some(webhook) = &alerts.webhook {
        if !is_url(&webhook.url) {
            out.push(key.key("webhook").key("url"), URL_RULE);
        }
    }
}

fn updates(out: &mut Findings, key: &KeyPath, updates: &Updates) {
    if updates.reboot != "never" && !is_clock(&updates.reboot) {
        out.push(
            key.key("reboot"),
            "must be \"never\" or a time of day as HH:MM, e.g. \"04:30\"",
        );
    }
    for (name, url) in [
        ("mirror", &updates.mirror),
        ("security-mirror", &updates.security_mirror),
    ] {
        if url.as_deref().is_some_and(|u| !is_url(u)) {
            out.push(key.key(name), URL_RULE);
        }
    }
    if updates
        .signed_by
        .as_deref()
        .is_some_and(|k| !is_armored_key(k))
    {
        out.push(
            key.key("signed-by"),
            format!(
                "must be an ASCII-armoured public key: `{KEY_BEGIN}`, base64 lines, `{KEY_END}`"
            ),
        );
    }
}

fn ntp(out: &mut Findings, key: &KeyPath, servers: &[String]) {
    for (i, server) in servers.iter().enumerate() {
        if !text::is_host(server) {
            out.push(key.index(i), "must be a host name or an IP address");
        }
    }
}

pub fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._+-".contains(c))
        && text::is_domain(domain)
}

fn is_login(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 128
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._+-@".contains(c))
}

/// A URL that goes on one line of a config file or a request as it is.
pub fn is_url(text: &str) -> bool {
    text::is_http_url(text)
        && text.len() <= 512
        && text
            .chars()
            .all(|c| c.is_ascii_graphic() && !"\"'\\`<>{}|^".contains(c))
}

pub fn is_secret(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 256
        && text
            .chars()
            .all(|c| (c.is_ascii_graphic() || c == ' ') && c != '"' && c != '\\')
}

pub fn is_schedule(text: &str) -> bool {
    matches!(text, "weekly" | "monthly" | "off") || calendar::is_calendar(text)
}

fn is_clock(text: &str) -> bool {
    let Some((hours, minutes)) = text.split_once(':') else {
        return false;
    };
    let two = |s: &str, max: u8| s.len() == 2 && s.parse::<u8>().is_ok_and(|n| n <= max);
    two(hours, 23) && two(minutes, 59)
}

fn is_armored_key(text: &str) -> bool {
    let lines: Vec<&str> = text.trim().lines().map(str::trim_end).collect();
    let [first, body @ .., last] = lines.as_slice() else {
        return false;
    };
    let body_ok = body.iter().all(|line| {
        line.is_empty()
            || line.starts_with("Comment: ")
            || line.starts_with("Version: ")
            || line
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+/=".contains(c))
    });
    *first == KEY_BEGIN && *last == KEY_END && !body.is_empty() && body_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_urls_and_schedules_are_checked_for_their_files() {
        assert!(is_email("admin@example.org"));
        assert!(is_email("ops+nas@mail.home.arpa"));
        for bad in [
            "admin",
            "a b@example.org",
            "x@-bad",
            "a\n@b.org",
            "a@b.org\"x",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
        assert!(is_url("https://ntfy.sh/hearth-alerts"));
        assert!(is_url("http://10.0.2.2:8080/hook"));
        for bad in [
            "ftp://x",
            "http://a b/",
            "http://x/\"",
            "http://x/`id`",
            "https://",
        ] {
            assert!(!is_url(bad), "{bad}");
        }
        for good in ["weekly", "monthly", "off", "Sun *-*-01..07 03:00"] {
            assert!(is_schedule(good), "{good}");
        }
        assert!(!is_schedule("sometimes"));
        assert!(is_clock("04:30") && !is_clock("24:00") && !is_clock("4:30"));
        assert!(is_secret("s3cret pass!") && !is_secret("a\"b") && !is_secret("a\nb"));
        let key = format!("{KEY_BEGIN}\n\nmQENBF+abc/=\n=AbCd\n{KEY_END}\n");
        assert!(is_armored_key(&key));
        assert!(!is_armored_key(
            "-----BEGIN PGP PUBLIC KEY BLOCK-----\n$(id)\n-----END PGP PUBLIC KEY BLOCK-----"
        ));
    }
}
