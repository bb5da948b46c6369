//! The timers of Hearth's own oneshot units (backups, replication).

/// A systemd timer for one of Hearth's oneshot units: on `schedule`
/// (OnCalendar), caught up after downtime, spread by up to `delay`.
pub fn timer_unit(section: &str, description: &str, schedule: &str, delay: &str) -> String {
    format!(
        "# Written by the Hearth installer from {section}.\n\
         [Unit]\n\
         Description={description} on schedule {schedule} (Hearth)\n\n\
         [Timer]\n\
         OnCalendar={schedule}\n\
         Persistent=true\n\
         RandomizedDelaySec={delay}\n\n\
         [Install]\n\
         WantedBy=timers.target\n"
    )
}
