//! The plan as a preview a careful admin can sign off.

use crate::datasets::BOOT_ENV;
use std::fmt::Write;

use super::{Plan, PoolAction};
use crate::inventory::printable;
use crate::password::Password;

pub fn render(plan: &Plan) -> String {
    let sections: [fn(&mut String, &Plan); 12] = [
        header, erased, untouched, pools, datasets, boot, accounts, files, software, first_boot,
        kept, care,
    ];
    let mut out = String::new();
    for (i, section) in sections.iter().enumerate() {
        if i > 0 {
            line(&mut out, String::new());
        }
        section(&mut out, plan);
    }
    out
}

fn header(w: &mut String, plan: &Plan) {
    line(
        w,
        format!(
            "Hearth install plan: profile {} ({} {}), host {}",
            plan.profile, plan.base, plan.suite, plan.fqdn
        ),
    );
}

fn erased(w: &mut String, plan: &Plan) {
    line(
        w,
        "Disks that will be ERASED (everything on them is lost):".into(),
    );
    if plan.erase.is_empty() {
        line(w, "  none".into());
    }
    for disk in &plan.erase {
        let d = &disk.disk;
        line(
            w,
            format!(
                "  {}  {}  model {}  serial {}  {}-byte sectors",
                printable(&d.path.display().to_string()),
                d.size.decimal(),
                printable(d.model.as_deref().unwrap_or("unknown")),
                printable(d.serial.as_deref().unwrap_or("none")),
                d.logical_sector
            ),
        );
        line(
            w,
            format!(
                "      id {}",
                printable(&d.stable_path.display().to_string())
            ),
        );
        line(
            w,
            format!(
                "      for {}; chosen because: {}",
                disk.role, disk.chosen_because
            ),
        );
        line(w, format!("      now holds: {}", disk.holds));
        for p in &disk.partitions {
            line(
                w,
                format!(
                    "      part {} {:<9} start {:>6} size {:>11} (LBA {}-{})",
                    p.number,
                    p.name,
                    p.start.to_string(),
                    p.size.binary(),
                    p.first_lba,
                    p.last_lba
                ),
            );
        }
    }
}

fn untouched(w: &mut String, plan: &Plan) {
    line(w, "Disks left untouched (never opened for writing):".into());
    if plan.untouched.is_empty() {
        line(w, "  none".into());
    }
    for disk in &plan.untouched {
        let d = &disk.disk;
        line(
            w,
            format!(
                "  {}  {}  model {}  serial {}: {}",
                printable(&d.path.display().to_string()),
                d.size.decimal(),
                printable(d.model.as_deref().unwrap_or("unknown")),
                printable(d.serial.as_deref().unwrap_or("none")),
                disk.why
            ),
        );
    }
}

fn pools(w: &mut String, plan: &Plan) {
    line(w, "Pools:".into());
    for pool in &plan.pools {
        let what = match pool.action {
            PoolAction::Create => "create",
            PoolAction::Import => "import, untouched",
        };
        line(
            w,
            format!("  {} ({:?}, {what})", pool.name, pool.role).to_lowercase(),
        );
        for vdev in &pool.vdevs {
            let members: Vec<String> = vdev
                .members
                .iter()
                .map(|m| m.display().to_string())
                .collect();
            line(
                w,
                format!(
                    "    {} {}: {}",
                    vdev.class.name(),
                    vdev.topology.name(),
                    members.join(" ")
                ),
            );
        }
        if let Some(key) = &pool.encryption {
            line(w, format!("    {}", super::keys::describe(key, pool)));
        }
        line(w, format!("    $ {}", pool.argv().join(" ")));
    }
}

fn datasets(w: &mut String, plan: &Plan) {
    line(w, "Datasets:".into());
    for dataset in &plan.datasets {
        let only = if dataset.only_if_missing {
            "  (only if missing)"
        } else {
            ""
        };
        line(w, format!("  $ {}{only}", dataset.argv().join(" ")));
    }
    if !plan.datasets.is_empty() {
        line(
            w,
            "  (siblings made at once, parents first; then `zfs unmount -a`, the boot environment mounted, and `zfs mount -a`)".into(),
        );
    }
}

fn boot(w: &mut String, plan: &Plan) {
    line(
        w,
        format!(
            "Boot: GRUB for BIOS and UEFI on every root disk; kernel {}",
            plan.boot.kernel_cmdline
        ),
    );
    let be = &plan.boot.environments;
    line(
        w,
        format!(
            "  boot environments: {BOOT_ENV} first; hearth upgrade keeps {}, a snapshot before each apt run (newest {} kept), a new one falls back unless it reaches multi-user in {} min",
            be.keep, be.snapshots, be.fallback_minutes
        ),
    );
    let enrolment = if plan.boot.machine_key.enroll {
        "enrolled with mokutil --import: confirm it in MokManager at the first boot with the answer's password"
    } else {
        "not enrolled (no mok-password-hash in the answer): mokutil --import /var/lib/dkms/mok.pub enrolls it"
    };
    line(
        w,
        format!("  Secure Boot: signed shim and GRUB; the machine's own module-signing key for DKMS made here, {enrolment}"),
    );
    for disk in &plan.boot.disks {
        line(
            w,
            format!(
                "  {}: ESP {}, BIOS boot {}",
                disk.disk.display(),
                disk.esp.display(),
                disk.bios_boot.display()
            ),
        );
    }
}

fn accounts(w: &mut String, plan: &Plan) {
    line(w, "Accounts:".into());
    for account in &plan.accounts {
        let password = match &account.password {
            Password::Crypt(_) => "hash given".to_string(),
            state => state.to_string(),
        };
        let password = match account.samba_nt_hash {
            Some(_) => format!("{password} (and for Samba)"),
            None => password,
        };
        let groups = if account.groups.is_empty() {
            String::new()
        } else {
            format!(", groups {}", account.groups.join(","))
        };
        line(
            w,
            format!(
                "  {}: password {password}, {} ssh key(s){groups}",
                account.name,
                account.ssh_keys.len()
            ),
        );
    }
}

fn files(w: &mut String, plan: &Plan) {
    line(w, "Files written:".into());
    for file in &plan.files {
        line(w, format!("  {} ({})", file.path.display(), file.mode));
    }
    if plan.pin_nic_names {
        line(
            w,
            "  /etc/systemd/network/10-hearth-nicN.link: each Ethernet NIC named nicN by its MAC"
                .into(),
        );
    }
}

fn software(w: &mut String, plan: &Plan) {
    line(
        w,
        format!(
            "Packages ({}): {}",
            plan.packages.len(),
            plan.packages.join(" ")
        ),
    );
    line(w, format!("Units enabled: {}", plan.units.join(" ")));
}

fn first_boot(w: &mut String, plan: &Plan) {
    line(
        w,
        "First boot (hearth-firstboot runs `hearth provision`):".into(),
    );
    if plan.first_boot.is_empty() {
        line(w, "  nothing".into());
    }
    for step in &plan.first_boot {
        line(w, format!("  {}: {}", step.service, step.action));
    }
    if !plan.prompts.is_empty() {
        line(w, String::new());
        line(w, "Still to be asked:".into());
        for prompt in &plan.prompts {
            line(w, format!("  {prompt}"));
        }
    }
}

fn line(out: &mut String, text: String) {
    // Every line is one line, whatever a disk or a profile reported.
    let _ = writeln!(out, "{}", printable(text.trim_end()));
}

fn kept(w: &mut String, plan: &Plan) {
    let state = &plan.state;
    match &state.dataset {
        Some(dataset) => line(
            w,
            format!(
                "Kept state (on {dataset}, at {}, root only):",
                state.mountpoint.display()
            ),
        ),
        None => line(
            w,
            "Kept state (no data pool: only in a recovery kit, `hearth recovery-kit`):".into(),
        ),
    }
    for (what, items) in crate::services::kept::by_what(&state.kept) {
        let paths: Vec<String> = items
            .iter()
            .map(|k| printable(&k.path.display().to_string()))
            .collect();
        let back = if items.iter().any(|k| k.restore) {
            ""
        } else {
            " (kept, not put back)"
        };
        line(w, format!("  {what}{back}: {}", paths.join(", ")));
    }
    match &state.restore {
        Some(super::Restore::Pool { dataset }) => line(
            w,
            format!("  restored before first boot from {dataset} on the kept pool, when it holds a kept state; first boot then finds these made"),
        ),
        Some(super::Restore::Kit { source, data }) => {
            line(
                w,
                format!("  restored before first boot from the recovery kit {}; the install stops before any write if its passphrase, host name or pools do not match", printable(source)),
            );
            if !data.is_empty() {
                let paths: Vec<String> = data.iter().map(|p| p.display().to_string()).collect();
                line(
                    w,
                    format!("  then the latest cloud backup restored into {} (the repository must open first)", paths.join(", ")),
                );
            }
        }
        None => line(w, "  made anew by first boot (no kept state to restore)".into()),
    }
}

fn care(w: &mut String, plan: &Plan) {
    let care = &plan.care;
    line(w, "Day-two care:".into());
    match care.alerts.as_slice() {
        [] => line(
            w,
            "  alerts: the journal only (no [alerts] receiver)".into(),
        ),
        receivers => {
            for receiver in receivers {
                line(w, format!("  alerts: {receiver}"));
            }
        }
    }
    for (pool, scrub) in &care.scrub {
        let trim = care.trim.get(pool).map(String::as_str).unwrap_or("off");
        line(w, format!("  pool {pool}: scrub {scrub}; trim {trim}"));
    }
    line(
        w,
        "  SMART: smartd on every disk it finds; short self-test daily, long weekly".into(),
    );
    line(w, format!("  updates: {}", care.updates));
    line(w, format!("  time: {}", care.time));
    for name in plan.secrets.keys() {
        line(
            w,
            format!("  secret from the answer: {name} (root-only files; never logged)"),
        );
    }
}
