//! /etc/exports.d/hearth.exports from the profile's NFS exports: one line
//! per export, each client network with the export's options (exports(5)).

use crate::profile::Nfs;

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
