//! smb.conf from the profile's [services.samba]. Checked by `testparm -s`
//! in the tests; passwords never appear here (Samba keeps its own hashes,
//! set by `smbpasswd` from the answer's password at install).

pub mod provision;

use std::fmt::Write;

use crate::profile::{Samba, SambaShare};

use crate::keypath::KeyPath;
use crate::ports::Port;
use crate::profile::Profile;
use crate::{Context, File, FirstBootStep, Service, Task};
use hearth_schema::validate::{text, Findings};

pub const PATH: &str = "/etc/samba/smb.conf";

/// The Unix group that owns a share's folder: its users are its members.
pub fn share_group(share: &str) -> String {
    let name: String = share
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("smb-{name}")
}

pub fn smb_conf(samba: &Samba, hostname: &str) -> String {
    let mut out = String::from(
        "# Written by the Hearth installer from the profile; `testparm -s` checks it.\n",
    );
    let guests = samba.shares.iter().any(|s| s.guest);
    let macs = samba.shares.iter().any(|s| s.time_machine);
    let _ = writeln!(out, "[global]");
    line(&mut out, "workgroup", &samba.workgroup);
    line(&mut out, "server string", &format!("{hostname} (Hearth)"));
    line(&mut out, "server role", "standalone server");
    line(&mut out, "passdb backend", "tdbsam");
    line(&mut out, "server min protocol", "SMB2_10");
    line(&mut out, "disable netbios", "yes");
    line(&mut out, "smb ports", "445");
    line(
        &mut out,
        "map to guest",
        if guests { "Bad User" } else { "Never" },
    );
    line(&mut out, "logging", "file");
    line(&mut out, "log file", "/var/log/samba/log.%m");
    line(&mut out, "max log size", "1000");
    line(&mut out, "load printers", "no");
    line(&mut out, "printing", "bsd");
    line(&mut out, "printcap name", "/dev/null");
    line(&mut out, "disable spoolss", "yes");
    if macs {
        // Must be global: macOS asks for AAPL extensions on the first tree connect.
        line(&mut out, "fruit:metadata", "stream");
        line(&mut out, "fruit:model", "MacSamba");
        line(&mut out, "fruit:nfs_aces", "no");
        line(&mut out, "fruit:zero_file_id", "yes");
    }
    for share in &samba.shares {
        out.push('\n');
        share_section(&mut out, share, macs);
    }
    out
}

fn share_section(out: &mut String, share: &SambaShare, macs: bool) {
    let _ = writeln!(out, "[{}]", share.name);
    line(out, "path", &share.path.display().to_string());
    line(out, "browseable", "yes");
    line(out, "read only", if share.read_only { "yes" } else { "no" });
    line(out, "guest ok", if share.guest { "yes" } else { "no" });
    if !share.users.is_empty() {
        line(out, "valid users", &share.users.join(" "));
    }
    line(out, "create mask", "0664");
    line(out, "directory mask", "2775");
    let mut vfs = Vec::new();
    if macs {
        vfs.extend(["catia", "fruit", "streams_xattr"]);
    }
    if share.previous_versions {
        vfs.push("shadow_copy2");
    }
    if share.recycle_bin {
        vfs.push("recycle");
    }
    if !vfs.is_empty() {
        line(out, "vfs objects", &vfs.join(" "));
    }
    if share.previous_versions {
        lines(out, SHADOW_COPY);
    }
    if share.recycle_bin {
        lines(out, RECYCLE);
    }
    if share.time_machine {
        line(out, "fruit:time machine", "yes");
        if let Some(max) = &share.time_machine_max_size {
            line(out, "fruit:time machine max size", &max.to_string());
        }
    }
}

/// Snapshots as "Previous Versions"; sanoid names them
/// autosnap_2026-11-26_09:00:01_hourly.
const SHADOW_COPY: &[(&str, &str)] = &[
    ("shadow:snapdir", ".zfs/snapshot"),
    ("shadow:sort", "desc"),
    ("shadow:snapprefix", "^autosnap"),
    ("shadow:delimiter", "_20"),
    ("shadow:format", "_%Y-%m-%d_%H:%M:%S"),
    ("shadow:localtime", "yes"),
];

const RECYCLE: &[(&str, &str)] = &[
    ("recycle:repository", ".recycle/%U"),
    ("recycle:keeptree", "yes"),
    ("recycle:versions", "yes"),
    ("recycle:touch", "yes"),
    ("recycle:directory_mode", "0700"),
];

fn lines(out: &mut String, pairs: &[(&str, &str)]) {
    for (key, value) in pairs {
        line(out, key, value);
    }
}

fn line(out: &mut String, key: &str, value: &str) {
    let _ = writeln!(out, "   {key} = {value}");
}

/// One line of the smbpasswd(5) file the install imports with pdbedit: no
/// LM hash, a normal user account, set `now` (a last-change time of 0
/// would mean "must change at next logon").
pub fn smbpasswd_line(user: &str, uid: u32, nt_hash: &str, now: u64) -> String {
    format!(
        "{user}:{uid}:{}:{}:[U          ]:LCT-{now:08X}:\n",
        "X".repeat(32),
        nt_hash.to_ascii_uppercase()
    )
}

/// Samba: shares, Time Machine (advertised by Avahi), Previous Versions.
pub struct SmbServer;

impl Service for SmbServer {
    fn packages(&self, profile: &Profile) -> Vec<&'static str> {
        match &profile.services.samba {
            Some(samba) if time_machine(samba) => {
                vec!["samba", "samba-vfs-modules", "avahi-daemon"]
            }
            Some(_) => vec!["samba", "samba-vfs-modules"],
            None => Vec::new(),
        }
    }

    fn units(&self, profile: &Profile) -> Vec<String> {
        match &profile.services.samba {
            Some(samba) if time_machine(samba) => {
                vec!["smbd.service".into(), "avahi-daemon.service".into()]
            }
            Some(_) => vec!["smbd.service".into()],
            None => Vec::new(),
        }
    }

    fn files(&self, profile: &Profile) -> Vec<File> {
        let Some(samba) = &profile.services.samba else {
            return Vec::new();
        };
        vec![File::public(
            PATH,
            smb_conf(samba, &profile.system.hostname),
        )]
    }

    fn ports(&self, profile: &Profile) -> Vec<Port> {
        match profile.services.samba {
            Some(_) => vec![Port::tcp(445, "samba", "services.samba")],
            None => Vec::new(),
        }
    }

    fn first_boot(&self, profile: &Profile) -> Vec<FirstBootStep> {
        let shares = profile.services.samba.iter().flat_map(|s| &s.shares);
        shares
            .filter(|share| !share.users.is_empty())
            .map(|share| {
                let group = share_group(&share.name);
                let action = format!(
                    "give group {group} ({}) the folder {}",
                    share.users.join(", "),
                    share.path.display()
                );
                let task = Task::ShareAccess {
                    path: share.path.clone(),
                    group,
                    users: share.users.clone(),
                };
                FirstBootStep::new("samba", action, task)
            })
            .collect()
    }

    fn check(&self, profile: &Profile, ctx: &Context, out: &mut Findings) {
        let Some(samba) = &profile.services.samba else {
            return;
        };
        let top = KeyPath::root().key("services").key("samba");
        if !text::is_workgroup(&samba.workgroup) {
            out.push(top.key("workgroup"), text::WORKGROUP_RULE);
        }
        let at = top.key("shares");
        let mut groups = Vec::new();
        for (i, share) in samba.shares.iter().enumerate() {
            if !text::is_share_name(&share.name) {
                out.push(at.index(i).key("name"), text::SHARE_RULE);
            } else if groups.contains(&share_group(&share.name)) {
                // Names equal but for case or punctuation share one Unix group.
                out.push(
                    at.index(i).key("name"),
                    format!(
                        "share `{}` is defined twice (names are compared ignoring case, and spaces, dots and _ as -)",
                        share.name
                    ),
                );
            }
            groups.push(share_group(&share.name));
            ctx.path_on_dataset(out, at.index(i).key("path"), &share.path);
            for (j, user) in share.users.iter().enumerate() {
                ctx.user(out, at.index(i).key("users").index(j), user);
            }
            if share.time_machine_max_size.is_some() && !share.time_machine {
                out.push(
                    at.index(i).key("time-machine-max-size"),
                    "only used with time-machine = true",
                );
            }
        }
    }
}

fn time_machine(samba: &crate::profile::Samba) -> bool {
    samba.shares.iter().any(|share| share.time_machine)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_passdb_line_has_no_lm_hash_and_is_set_now() {
        let line = smbpasswd_line(
            "admin",
            1000,
            "8846f7eaee8fb117ad06bdd830b7586c",
            0x6750_0000,
        );
        assert_eq!(
            line,
            "admin:1000:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX:8846F7EAEE8FB117AD06BDD830B7586C:[U          ]:LCT-67500000:\n"
        );
    }
}
