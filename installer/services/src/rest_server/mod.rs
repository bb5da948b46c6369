//! restic's rest-server as a backup target for other devices: a unit that
//! serves the dataset as a system user, with an htpasswd file whose entries
//! are made at first boot from passwords made there.

pub mod provision;

use std::path::{Path, PathBuf};

use crate::profile::{Profile, RestServer};

use crate::keypath::KeyPath;
use crate::ports::Port;
use crate::Kept;
use crate::{Context, File, FirstBootStep, Service, Task};
use hearth_schema::validate::{checks, Findings};

pub const UNIT: &str = "/etc/systemd/system/hearth-rest-server.service";
pub const USER: &str = "rest-server";
/// The htpasswd file and one password file per client.
pub const DIR: &str = "/etc/hearth/rest-server";

pub fn htpasswd() -> PathBuf {
    Path::new(DIR).join("htpasswd")
}

pub fn password_file(client: &str) -> PathBuf {
    Path::new(DIR).join(format!("{client}.password"))
}

/// Where the dataset is mounted: the repositories' root.
pub fn served_path(profile: &Profile, rest: &RestServer) -> PathBuf {
    crate::datasets::mounted_at(profile, &rest.dataset)
}

pub fn unit(rest: &RestServer, path: &Path) -> String {
    let private = if rest.private_repos {
        " --private-repos"
    } else {
        ""
    };
    format!(
        "# Written by the Hearth installer from [services.backup-target.rest-server].\n\
         [Unit]\n\
         Description=restic REST server on {dataset} (Hearth)\n\
         Wants=network-online.target hearth-firstboot.service\n\
         After=network-online.target zfs-mount.service hearth-firstboot.service\n\
         RequiresMountsFor={path}\n\n\
         [Service]\n\
         User={USER}\n\
         Group={USER}\n\
         ExecStart=/usr/bin/restic-rest-server --path {path} --listen :{port} --htpasswd-file {htpasswd}{private}\n\
         Restart=on-failure\n\
         NoNewPrivileges=yes\n\
         ProtectSystem=strict\n\
         ProtectHome=yes\n\
         PrivateTmp=yes\n\
         ReadWritePaths={path}\n\n\
         [Install]\n\
         WantedBy=multi-user.target\n",
        dataset = rest.dataset,
        path = path.display(),
        port = rest.port,
        htpasswd = htpasswd().display(),
    )
}

pub struct RestServerTarget;

fn rest_server(profile: &Profile) -> Option<&RestServer> {
    profile
        .services
        .backup_target
        .as_ref()?
        .rest_server
        .as_ref()
}

impl Service for RestServerTarget {
    fn kept(&self, profile: &Profile) -> Vec<Kept> {
        match rest_server(profile) {
            Some(_) => vec![Kept::new(DIR, "rest-server client passwords")],
            None => Vec::new(),
        }
    }

    fn packages(&self, profile: &Profile) -> Vec<&'static str> {
        match rest_server(profile) {
            Some(_) => vec!["restic-rest-server", "apache2-utils"],
            None => Vec::new(),
        }
    }

    fn units(&self, profile: &Profile) -> Vec<String> {
        match rest_server(profile) {
            Some(_) => vec!["hearth-rest-server.service".into()],
            None => Vec::new(),
        }
    }

    fn files(&self, profile: &Profile) -> Vec<File> {
        let Some(rest) = rest_server(profile) else {
            return Vec::new();
        };
        vec![File::public(UNIT, unit(rest, &served_path(profile, rest)))]
    }

    fn ports(&self, profile: &Profile) -> Vec<Port> {
        let Some(rest) = rest_server(profile) else {
            return Vec::new();
        };
        vec![Port::tcp(
            rest.port,
            "rest-server",
            "services.backup-target.rest-server.port",
        )]
    }

    fn first_boot(&self, profile: &Profile) -> Vec<FirstBootStep> {
        let Some(rest) = rest_server(profile) else {
            return Vec::new();
        };
        let path = served_path(profile, rest);
        vec![FirstBootStep::new(
            "rest-server",
            format!(
                "give user {USER} the folder {} and make the clients' passwords ({})",
                path.display(),
                rest.clients.join(", ")
            ),
            Task::RestServer {
                path,
                clients: rest.clients.clone(),
            },
        )]
    }

    fn check(&self, profile: &Profile, ctx: &Context, out: &mut Findings) {
        let Some(rest) = rest_server(profile) else {
            return;
        };
        let at = KeyPath::root()
            .key("services")
            .key("backup-target")
            .key("rest-server");
        ctx.dataset(out, at.key("dataset"), &rest.dataset);
        for (i, client) in rest.clients.iter().enumerate() {
            // A client is a user name in htpasswd and a folder of the repository.
            if !checks::is_username(client) {
                out.push(
                    at.key("clients").index(i),
                    format!("`{client}`: use lower-case letters, digits, dashes and underscores"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_the_dataset_as_its_own_user_with_authentication() {
        let rest = RestServer {
            dataset: "tank/backups/restic".into(),
            port: 8000,
            private_repos: true,
            clients: vec!["laptop".into()],
        };
        let unit = unit(&rest, Path::new("/tank/backups/restic"));
        assert!(unit.contains("ExecStart=/usr/bin/restic-rest-server --path /tank/backups/restic --listen :8000 --htpasswd-file /etc/hearth/rest-server/htpasswd --private-repos\n"));
        assert!(unit.contains("User=rest-server\n"));
        assert!(unit.contains("ReadWritePaths=/tank/backups/restic\n"));
    }
}
