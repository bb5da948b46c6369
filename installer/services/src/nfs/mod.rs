//! /etc/exports.d/hearth.exports from the profile's NFS exports: one line
//! per export, each client network with the export's options (exports(5)).

use crate::profile::Nfs;

use crate::keypath::KeyPath;
use crate::ports::Port;
use crate::profile::Profile;
use crate::{Context, File, Service};
use hearth_schema::validate::{checks, Findings};

pub const PATH: &str = "/etc/exports.d/hearth.exports";

/// NFSv3's helpers listen on fixed ports, so the firewall can open them.
pub const CONF: &str = "/etc/nfs.conf.d/hearth.conf";
pub const MOUNTD_PORT: u16 = 20048;
pub const STATD_PORT: u16 = 32765;
pub const LOCKD_PORT: u16 = 32768;

pub fn nfs_conf() -> String {
    format!(
        "# Written by the Hearth installer: fixed ports for NFSv3's helpers (the firewall opens them).\n\
         [mountd]\nport = {MOUNTD_PORT}\n\n\
         [statd]\nport = {STATD_PORT}\n\n\
         [lockd]\nport = {LOCKD_PORT}\nudp-port = {LOCKD_PORT}\n"
    )
}

pub fn exports(nfs: &Nfs) -> String {
    let mut out = String::from("# Written by the Hearth installer from the profile.\n");
    for export in &nfs.exports {
        let path = export.path.display().to_string();
        // exports(5): a path with blanks is double-quoted.
        let path = if path.contains(char::is_whitespace) {
            format!("\"{path}\"")
        } else {
            path
        };
        let options = export.options.join(",");
        let clients: Vec<String> = export
            .clients
            .iter()
            .map(|client| format!("{client}({options})"))
            .collect();
        out.push_str(&format!("{path} {}\n", clients.join(" ")));
    }
    out
}

/// The NFS server, its helpers on fixed ports so the firewall can open them.
pub struct NfsServer;

impl Service for NfsServer {
    fn packages(&self, profile: &Profile) -> Vec<&'static str> {
        match profile.services.nfs {
            Some(_) => vec!["nfs-kernel-server"],
            None => Vec::new(),
        }
    }

    fn units(&self, profile: &Profile) -> Vec<String> {
        match profile.services.nfs {
            Some(_) => vec!["nfs-server.service".into()],
            None => Vec::new(),
        }
    }

    fn files(&self, profile: &Profile) -> Vec<File> {
        let Some(nfs) = &profile.services.nfs else {
            return Vec::new();
        };
        vec![
            File::public(PATH, exports(nfs)),
            File::public(CONF, nfs_conf()),
        ]
    }

    fn ports(&self, profile: &Profile) -> Vec<Port> {
        if profile.services.nfs.is_none() {
            return Vec::new();
        }
        let key = "services.nfs";
        let mut ports = vec![Port::tcp(2049, "nfs", key)];
        for port in [111, MOUNTD_PORT, STATD_PORT, LOCKD_PORT] {
            ports.push(Port::tcp(port, "nfs", key));
            ports.push(Port::udp(port, "nfs", key));
        }
        ports
    }

    fn check(&self, profile: &Profile, ctx: &Context, out: &mut Findings) {
        let Some(nfs) = &profile.services.nfs else {
            return;
        };
        let at = KeyPath::root().key("services").key("nfs").key("exports");
        for (i, export) in nfs.exports.iter().enumerate() {
            ctx.path_on_dataset(out, at.index(i).key("path"), &export.path);
            if export.clients.is_empty() {
                out.push(
                    at.index(i).key("clients"),
                    "name at least one client network, e.g. \"192.168.1.0/24\"",
                );
            }
            options(out, &at.index(i).key("options"), &export.options);
            for (j, client) in export.clients.iter().enumerate() {
                if !checks::is_client(client) {
                    out.push(
                        at.index(i).key("clients").index(j),
                        format!("`{client}` is not a network, address or host name"),
                    );
                }
            }
        }
    }
}

/// exports(5)'s options; those taking a value are checked by kind.
const FLAGS: &[&str] = &[
    "rw",
    "ro",
    "sync",
    "async",
    "secure",
    "insecure",
    "wdelay",
    "no_wdelay",
    "hide",
    "nohide",
    "crossmnt",
    "subtree_check",
    "no_subtree_check",
    "secure_locks",
    "insecure_locks",
    "auth_nlm",
    "no_auth_nlm",
    "root_squash",
    "no_root_squash",
    "all_squash",
    "no_all_squash",
    "mp",
    "pnfs",
    "no_pnfs",
    "security_label",
    "nordirplus",
];
const SECURITY: &[&str] = &["sys", "krb5", "krb5i", "krb5p"];

pub const OPTIONS_RULE: &str = "allowed: rw, ro, sync, async, secure, insecure, wdelay, no_wdelay, hide, nohide, crossmnt, subtree_check, no_subtree_check, secure_locks, insecure_locks, auth_nlm, no_auth_nlm, root_squash, no_root_squash, all_squash, no_all_squash, mp, pnfs, no_pnfs, security_label, nordirplus, anonuid=N, anongid=N, fsid=N|root|<uuid>, sec=sys:krb5:krb5i:krb5p";

pub fn is_option(option: &str) -> bool {
    if FLAGS.contains(&option) {
        return true;
    }
    let Some((name, value)) = option.split_once('=') else {
        return false;
    };
    let number =
        || !value.is_empty() && value.len() <= 10 && value.bytes().all(|b| b.is_ascii_digit());
    match name {
        "anonuid" | "anongid" => number(),
        "fsid" => {
            number()
                || value == "root"
                || (value.len() <= 36
                    && !value.is_empty()
                    && value.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'))
        }
        "sec" => value.split(':').all(|s| SECURITY.contains(&s)),
        _ => false,
    }
}

fn options(out: &mut Findings, at: &KeyPath, options: &[String]) {
    for (k, option) in options.iter().enumerate() {
        if !is_option(option) {
            out.push(
                at.index(k),
                format!("`{option}` is not an exports(5) option; {OPTIONS_RULE}"),
            );
        }
    }
    if options.iter().any(|o| o == "rw") && options.iter().any(|o| o == "ro") {
        out.push(at.clone(), "rw and ro contradict each other; give one");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::NfsExport;

    #[test]
    fn each_client_gets_the_options() {
        let nfs = Nfs {
            exports: vec![NfsExport {
                path: "/tank/shares/my media".into(),
                clients: vec!["192.168.1.0/24".into(), "backup.home.arpa".into()],
                options: vec!["ro".into(), "sync".into(), "no_subtree_check".into()],
            }],
        };
        assert_eq!(
            exports(&nfs).lines().nth(1),
            Some("\"/tank/shares/my media\" 192.168.1.0/24(ro,sync,no_subtree_check) backup.home.arpa(ro,sync,no_subtree_check)")
        );
    }
}
