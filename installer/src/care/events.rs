//! What ZED, smartd and systemd hand `hearth alert`, turned into alerts.
//! Pure over the variables they set; the few commands that add detail
//! (`zpool status`, the unit's journal) run in `describe`.

use std::collections::BTreeMap;

use super::{Alert, Severity};

/// Vdev states that leave a pool without its full redundancy.
const BAD_STATES: [&str; 4] = ["FAULTED", "DEGRADED", "REMOVED", "UNAVAIL"];

/// A ZFS event (ZED's ZEVENT_* variables, names without the prefix, as
/// `SUBCLASS`, `POOL`, `VDEV_PATH`, `VDEV_STATE_STR`), or None when it
/// is not one a person needs to hear about.
pub fn zevent(vars: &BTreeMap<String, String>) -> Option<Alert> {
    let get = |name: &str| vars.get(name).map(String::as_str).unwrap_or("");
    let pool = get("POOL");
    let vdev = match get("VDEV_PATH") {
        "" => get("VDEV_GUID"),
        path => path,
    };
    let alert = |severity, title: String, message: String| Alert {
        severity,
        title,
        message,
        source: "zed".into(),
    };
    match get("SUBCLASS") {
        "statechange" => {
            let state = get("VDEV_STATE_STR");
            BAD_STATES.contains(&state).then(|| {
                alert(
                    Severity::Critical,
                    format!("pool {pool}: vdev {vdev} is {state}"),
                    format!("ZFS reports vdev {vdev} of pool {pool} {state}: the pool runs without its full redundancy. A disk put back goes online with `zpool online {pool} {vdev}`; a new one takes its place with `hearth replace-disk {vdev} NEW`. `hearth status` shows the pool."),
                )
            })
        }
        "scrub_finish" => Some(alert(
            Severity::Info,
            format!("pool {pool}: scrub finished"),
            format!("The scrub of pool {pool} finished."),
        )),
        "resilver_finish" => Some(alert(
            Severity::Resolved,
            format!("pool {pool}: resilver finished"),
            format!("The resilver of pool {pool} finished: the data is whole on every disk again."),
        )),
        "checksum" | "io" | "data" => Some(alert(
            Severity::Warning,
            format!("pool {pool}: {} errors on {vdev}", get("SUBCLASS")),
            format!("ZFS counted {} errors on {vdev} of pool {pool}. Further errors within the hour are not repeated; `zpool status -v {pool}` has the counts.", get("SUBCLASS")),
        )),
        "io_failure" => Some(alert(
            Severity::Critical,
            format!("pool {pool}: I/O failure, the pool is suspended"),
            format!("Pool {pool} can no longer write: too many of its disks failed. Reconnect them and run `zpool clear {pool}`."),
        )),
        _ => None,
    }
}

/// The key under which repeats of an alert are held back for an hour
/// (ZED's ZED_NOTIFY_INTERVAL_SECS does the same for its notifiers).
pub fn repeat_key(vars: &BTreeMap<String, String>) -> Option<String> {
    let get = |name: &str| vars.get(name).cloned().unwrap_or_default();
    match get("SUBCLASS").as_str() {
        "checksum" | "io" | "data" => Some(format!(
            "{}-{}-{}",
            get("SUBCLASS"),
            get("POOL"),
            get("VDEV_GUID")
        )),
        _ => None,
    }
}

/// smartd's warning (`-M exec`): SMARTD_FAILTYPE, SMARTD_DEVICE,
/// SMARTD_DEVICEINFO and SMARTD_MESSAGE, names without the prefix.
pub fn smartd(vars: &BTreeMap<String, String>) -> Alert {
    let get = |name: &str| vars.get(name).map(String::as_str).unwrap_or("");
    let kind = get("FAILTYPE");
    let severity = match kind {
        "EmailTest" => Severity::Info,
        "Temperature" => Severity::Warning,
        _ => Severity::Critical,
    };
    let device = match get("DEVICEINFO") {
        "" => get("DEVICE").to_string(),
        info => format!("{} ({info})", get("DEVICE")),
    };
    Alert {
        severity,
        title: format!("disk {}: SMART {kind}", get("DEVICE")),
        message: format!("smartd on disk {device}: {}", get("MESSAGE")),
        source: "smartd".into(),
    }
}

/// A unit that failed, with the tail of its journal.
pub fn unit_failed(unit: &str, journal: &str) -> Alert {
    Alert {
        severity: Severity::Critical,
        title: format!("{unit} failed"),
        message: format!(
            "systemd unit {unit} failed. Its last lines:\n{journal}\n`systemctl status {unit}` and `journalctl -u {unit}` say more."
        ),
        source: "systemd".into(),
    }
}

/// Environment variables with `prefix`, keyed without it.
pub fn prefixed(prefix: &str) -> BTreeMap<String, String> {
    std::env::vars()
        .filter_map(|(k, v)| Some((k.strip_prefix(prefix)?.to_string(), v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_removed_disk_is_critical_and_names_pool_vdev_and_state() {
        let alert = zevent(&vars(&[
            ("SUBCLASS", "statechange"),
            ("POOL", "tank"),
            ("VDEV_PATH", "/dev/disk/by-id/virtio-hdd-2-part1"),
            ("VDEV_STATE_STR", "REMOVED"),
        ]))
        .expect("an alert");
        assert_eq!(alert.severity, Severity::Critical);
        assert_eq!(
            alert.title,
            "pool tank: vdev /dev/disk/by-id/virtio-hdd-2-part1 is REMOVED"
        );
        let online = vars(&[("SUBCLASS", "statechange"), ("VDEV_STATE_STR", "ONLINE")]);
        assert_eq!(zevent(&online), None);
        assert_eq!(zevent(&vars(&[("SUBCLASS", "history_event")])), None);
    }

    #[test]
    fn resilver_and_scrub_results_and_errors_are_reported_with_repeats_held() {
        let done = zevent(&vars(&[("SUBCLASS", "resilver_finish"), ("POOL", "tank")]));
        assert_eq!(done.map(|a| a.severity), Some(Severity::Resolved));
        let scrub = zevent(&vars(&[("SUBCLASS", "scrub_finish"), ("POOL", "tank")]));
        assert!(scrub.is_some_and(|a| a.title == "pool tank: scrub finished"));
        let errors = vars(&[
            ("SUBCLASS", "checksum"),
            ("POOL", "tank"),
            ("VDEV_GUID", "42"),
        ]);
        assert!(zevent(&errors).is_some());
        assert_eq!(repeat_key(&errors).as_deref(), Some("checksum-tank-42"));
    }

    #[test]
    fn smartd_failures_are_critical_and_its_test_mail_is_not() {
        let failed = smartd(&vars(&[
            ("FAILTYPE", "CurrentPendingSector"),
            ("DEVICE", "/dev/sda"),
            (
                "MESSAGE",
                "Device: /dev/sda, 8 Currently unreadable (pending) sectors",
            ),
        ]));
        assert_eq!(failed.severity, Severity::Critical);
        assert!(failed.message.contains("8 Currently unreadable"));
        assert_eq!(
            smartd(&vars(&[("FAILTYPE", "EmailTest")])).severity,
            Severity::Info
        );
    }
}
