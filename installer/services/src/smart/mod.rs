//! SMART monitoring with smartd: every disk it finds (DEVICESCAN, so a
//! disk put in by `hearth replace-disk` is watched too), with a short
//! self-test daily and a long one weekly; failures, pre-fail attributes
//! and failed self-tests go to `hearth alert` through `-M exec`.

use crate::profile::Profile;
use crate::{File, Service};

pub const CONF: &str = "/etc/smartd.conf";
const DROP_IN: &str = "/etc/systemd/system/smartmontools.service.d/10-hearth.conf";

/// Short test every day at 02:00, long test on Saturdays at 03:00.
pub const SELF_TESTS: &str = "(S/../.././02|L/../../6/03)";

pub fn smartd_conf() -> String {
    format!(
        "# Written by the Hearth installer.\n\
         # Every disk smartd finds: health, attributes, error logs and self-test\n\
         # logs (-a), offline data collection and attribute autosave on (-o, -S),\n\
         # no spin-up of a sleeping disk for a check (-n standby,q), the\n\
         # self-tests {SELF_TESTS}, and temperature changes of 4 degrees, 45 as\n\
         # informal and 55 as critical (-W). Warnings run {hook}.\n\
         DEVICESCAN -a -o on -S on -n standby,q -s {SELF_TESTS} -W 4,45,55 -m <nomailer> -M exec {hook}\n",
        hook = crate::alerts::SMARTD_HOOK
    )
}

/// A machine whose disks have no SMART (virtual disks) still runs smartd:
/// `-q nodev0` keeps it up with nothing to watch instead of failing. And
/// a virtual machine runs it too (Debian's unit skips them): a Hearth VM
/// is often given its disks by passthrough, and they have SMART.
const DROP_IN_TEXT: &str = "# Written by the Hearth installer.\n\
[Unit]\n\
ConditionVirtualization=\n\n\
[Service]\n\
ExecStart=\n\
ExecStart=/usr/sbin/smartd -n -q nodev0\n";

pub struct SmartMonitor;

impl Service for SmartMonitor {
    fn units(&self, _profile: &Profile) -> Vec<String> {
        vec!["smartmontools.service".into()]
    }

    fn files(&self, _profile: &Profile) -> Vec<File> {
        vec![
            File::public(CONF, smartd_conf()),
            File::public(DROP_IN, DROP_IN_TEXT),
        ]
    }
}
