//! Sending an alert to every receiver: mail through msmtp (its password
//! in the root-only /etc/msmtprc, never on a command line), a webhook
//! over HTTP. Each receiver's outcome is reported; secrets never are.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use super::Alert;
use crate::profile::WebhookKind;
use crate::runner::Runner;
use crate::services::alerts::{Config, EmailConfig, WebhookConfig, CONFIG, MSMTPRC};

/// The outcome at one receiver.
pub struct Delivery {
    pub receiver: String,
    pub result: Result<()>,
}

pub fn read_config(path: &Path) -> Result<Config> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// Sends `alert` to every receiver of the installed system's config; the
/// journal has it in any case (stderr of the unit that runs this).
pub fn send(alert: &Alert, runner: &Runner) -> Result<Vec<Delivery>> {
    let config = read_config(Path::new(CONFIG))?;
    eprintln!("alert {}: {}", alert.severity.word(), alert.title);
    Ok(send_with(&config, alert, runner))
}

pub fn send_with(config: &Config, alert: &Alert, runner: &Runner) -> Vec<Delivery> {
    let mut out = Vec::new();
    if let Some(email) = &config.email {
        out.push(Delivery {
            receiver: format!("mail to {} through {}", email.to.join(", "), email.relay),
            result: mail(email, &config.host, alert, runner),
        });
    }
    if let Some(hook) = &config.webhook {
        out.push(Delivery {
            receiver: format!("webhook {}", shown_url(&hook.url)),
            result: post(hook, &config.host, alert),
        });
    }
    out
}

/// Sends and fails when no receiver took it: for `hearth alert-test`
/// and for the units that run on events (their failure is logged).
pub fn deliver(alert: &Alert, runner: &Runner) -> Result<String> {
    let deliveries = send(alert, runner)?;
    if deliveries.is_empty() {
        return Ok("no receiver in [alerts]: the alert is in the journal only\n".into());
    }
    let mut report = String::new();
    let mut failed = 0;
    for delivery in &deliveries {
        match &delivery.result {
            Ok(()) => report.push_str(&format!("sent: {}\n", delivery.receiver)),
            Err(err) => {
                failed += 1;
                report.push_str(&format!("FAILED: {}: {err:#}\n", delivery.receiver));
            }
        }
    }
    if failed > 0 {
        bail!(
            "{failed} of {} receivers did not take the alert:\n{report}",
            deliveries.len()
        );
    }
    Ok(report)
}

pub fn subject(host: &str, alert: &Alert) -> String {
    format!("[{host}] {}: {}", alert.severity.word(), alert.title)
}

fn mail(email: &EmailConfig, host: &str, alert: &Alert, runner: &Runner) -> Result<()> {
    let message = format!(
        "From: Hearth on {host} <{}>\nTo: {}\nSubject: {}\nContent-Type: text/plain; charset=utf-8\n\n{}\n\n(source: {})\n",
        email.from,
        email.to.join(", "),
        subject(host, alert),
        alert.message,
        alert.source
    );
    let mut args = vec!["-C", MSMTPRC, "-a", "default", "--"];
    args.extend(email.to.iter().map(String::as_str));
    runner
        .run_with_input("msmtp", &args, &message)
        .map(drop)
        .context("msmtp")
}

fn post(hook: &WebhookConfig, host: &str, alert: &Alert) -> Result<()> {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()?;
    let request = match hook.kind {
        WebhookKind::Ntfy => {
            let priority = match alert.severity {
                super::Severity::Critical => "urgent",
                super::Severity::Warning => "high",
                _ => "default",
            };
            client
                .post(&hook.url)
                .header("Title", subject(host, alert))
                .header("Priority", priority)
                .header("Tags", format!("hearth,{}", alert.source))
                .body(alert.message.clone())
        }
        WebhookKind::Gotify => {
            let priority = match alert.severity {
                super::Severity::Critical => 8,
                super::Severity::Warning => 5,
                _ => 2,
            };
            let body = serde_json::json!({
                "title": subject(host, alert),
                "message": alert.message,
                "priority": priority,
            });
            client
                .post(format!("{}/message", hook.url.trim_end_matches('/')))
                .header("Content-Type", "application/json")
                .body(body.to_string())
        }
        WebhookKind::Json => {
            let body = serde_json::json!({
                "host": host,
                "severity": alert.severity,
                "title": alert.title,
                "message": alert.message,
                "source": alert.source,
                "time": crate::runner::epoch_seconds(),
            });
            client
                .post(&hook.url)
                .header("Content-Type", "application/json")
                .body(body.to_string())
        }
    };
    let request = match (&hook.token, hook.kind) {
        (Some(token), WebhookKind::Gotify) => request.header("X-Gotify-Key", token),
        (Some(token), _) => request.bearer_auth(token),
        (None, _) => request,
    };
    // The error names the host only: a URL may hold a topic or a token.
    let response = request
        .send()
        .map_err(|e| anyhow::anyhow!("it did not answer: {}", reason(&e)))?;
    let status = response.status();
    if !status.is_success() {
        bail!("it answered HTTP {status}");
    }
    Ok(())
}

/// Why a request failed, without the URL reqwest puts in its message.
fn reason(err: &reqwest::Error) -> String {
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(err);
    let mut last = if err.is_timeout() {
        "timed out".to_string()
    } else {
        "no answer".to_string()
    };
    while let Some(cause) = source {
        last = cause.to_string();
        source = cause.source();
    }
    last
}

/// scheme://host[:port]/… : enough to recognise the receiver.
pub fn shown_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "(a URL)".into();
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    format!("{scheme}://{host}/…")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// One request to a loopback server that answers `status`; returns
    /// what it received.
    fn received(hook: &mut WebhookConfig, status: &str) -> (Result<()>, String) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        hook.url = hook.url.replace("PORT", &port.to_string());
        let status = status.to_string();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().expect("accept");
            stream
                .set_read_timeout(Some(Duration::from_millis(500)))
                .expect("timeout");
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while let Ok(n) = stream.read(&mut buf) {
                if n == 0 {
                    break;
                }
                request.extend_from_slice(&buf[..n]);
            }
            let reply =
                format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            let _ = stream.write_all(reply.as_bytes());
            String::from_utf8_lossy(&request).to_lowercase()
        });
        let alert = Alert {
            severity: super::super::Severity::Critical,
            title: "pool tank is DEGRADED".into(),
            message: "vdev hdd-2 REMOVED".into(),
            source: "zed".into(),
        };
        let result = post(hook, "nas", &alert);
        (result, server.join().expect("server"))
    }

    #[test]
    fn ntfy_and_gotify_get_their_own_request_shapes_and_the_token() {
        let mut ntfy = WebhookConfig {
            url: "http://127.0.0.1:PORT/my-topic".into(),
            kind: WebhookKind::Ntfy,
            token: Some("tk_1".into()),
        };
        let (result, request) = received(&mut ntfy, "200 OK");
        assert!(result.is_ok(), "{result:?}");
        assert!(request.starts_with("post /my-topic "), "{request}");
        for needle in [
            "title: [nas] critical: pool tank is degraded",
            "priority: urgent",
            "authorization: bearer tk_1",
        ] {
            assert!(request.contains(needle), "{needle}: {request}");
        }
        assert!(
            request.ends_with("vdev hdd-2 removed"),
            "the body is the message: {request}"
        );

        let mut gotify = WebhookConfig {
            url: "http://127.0.0.1:PORT/".into(),
            kind: WebhookKind::Gotify,
            token: Some("app-token".into()),
        };
        let (result, request) = received(&mut gotify, "200 OK");
        assert!(result.is_ok(), "{result:?}");
        assert!(request.starts_with("post /message "), "{request}");
        assert!(request.contains("x-gotify-key: app-token"), "{request}");
        assert!(
            request.contains("\"priority\":8") && request.contains("\"title\":\"[nas] critical"),
            "{request}"
        );
    }

    #[test]
    fn a_refusing_webhook_is_an_error_that_says_its_status() {
        let mut hook = WebhookConfig {
            url: "http://127.0.0.1:PORT/hook".into(),
            kind: WebhookKind::Json,
            token: None,
        };
        let (result, request) = received(&mut hook, "503 Service Unavailable");
        let err = format!("{:#}", result.expect_err("refused"));
        assert_eq!(err, "it answered HTTP 503 Service Unavailable");
        assert!(request.contains("\"severity\":\"critical\""), "{request}");
    }

    #[test]
    fn a_shown_url_keeps_the_host_and_drops_path_and_login() {
        assert_eq!(
            shown_url("https://ntfy.sh/secret-topic"),
            "https://ntfy.sh/…"
        );
        assert_eq!(
            shown_url("http://u:p@10.0.2.2:8080/x?token=y"),
            "http://10.0.2.2:8080/…"
        );
    }
}
