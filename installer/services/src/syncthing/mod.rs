//! Syncthing per user (the packaged syncthing@<user>.service): the GUI
//! address comes from a drop-in, the configuration and the user's folder on
//! their dataset are made at first boot, as the user.

pub mod provision;

use std::path::{Path, PathBuf};

use crate::profile::{GuiBind, Syncthing, SyncthingUser};

use crate::keypath::KeyPath;
use crate::ports::Port;
use crate::profile::Profile;
use crate::Kept;
use crate::{Context, File, FirstBootStep, Service, Task};
use hearth_schema::validate::Findings;

pub fn drop_in_path(user: &str) -> String {
    format!("/etc/systemd/system/syncthing@{user}.service.d/hearth.conf")
}

pub fn gui_address(syncthing: &Syncthing, user: &SyncthingUser) -> String {
    let host = match syncthing.gui {
        GuiBind::Localhost => "127.0.0.1",
        GuiBind::Lan => "0.0.0.0",
    };
    format!("{host}:{}", user.gui_port)
}

pub fn drop_in(syncthing: &Syncthing, user: &SyncthingUser) -> String {
    format!(
        "# Written by the Hearth installer from [services.syncthing].\n\
         [Unit]\n\
         Wants=hearth-firstboot.service\n\
         After=hearth-firstboot.service zfs-mount.service\n\n\
         [Service]\n\
         Environment=STGUIADDRESS={}\n",
        gui_address(syncthing, user)
    )
}

/// Syncthing's home for a user (the default of Syncthing 1.27 and later).
pub fn home(user_home: &Path) -> PathBuf {
    user_home.join(".local/state/syncthing")
}

/// The folder element for the user's dataset, added to config.xml.
pub fn folder(user: &str, path: &Path) -> String {
    format!(
        "    <folder id=\"{user}-hearth\" label=\"{user} on Hearth\" path=\"{}\" type=\"sendreceive\" rescanIntervalS=\"3600\" fsWatcherEnabled=\"true\"></folder>\n",
        path.display()
    )
}

/// config.xml with the folder added before the closing tag, unless a
/// folder on that path is there already.
pub fn with_folder(config: &str, user: &str, path: &Path) -> Option<String> {
    if config.contains(&format!("path=\"{}\"", path.display())) {
        return None;
    }
    let end = config.rfind("</configuration>")?;
    Some(format!(
        "{}{}{}",
        &config[..end],
        folder(user, path),
        &config[end..]
    ))
}

/// Syncthing's "default" listen addresses with the user's own port (each
/// user's instance needs one; the firewall opens it), relays kept. None
/// once they are explicit.
pub fn with_listen_port(config: &str, port: u16) -> Option<String> {
    let default = "<listenAddress>default</listenAddress>";
    if !config.contains(default) {
        return None;
    }
    let explicit = format!(
        "<listenAddress>tcp://:{port}</listenAddress><listenAddress>quic://:{port}</listenAddress><listenAddress>dynamic+https://relays.syncthing.net/endpoint</listenAddress>"
    );
    Some(config.replacen(default, &explicit, 1))
}

/// Syncthing's sync protocol port for the i-th user (each instance needs its own).
pub fn sync_port(index: usize) -> u16 {
    22000 + index as u16
}

pub struct SyncthingSync;

impl Service for SyncthingSync {
    fn kept(&self, profile: &Profile) -> Vec<Kept> {
        let users = profile.services.syncthing.iter().flat_map(|s| &s.users);
        users
            .map(|u| {
                let user_home = Path::new("/home").join(&u.name);
                Kept::new(home(&user_home), "Syncthing device key and config")
            })
            .collect()
    }

    fn packages(&self, profile: &Profile) -> Vec<&'static str> {
        match profile.services.syncthing {
            Some(_) => vec!["syncthing"],
            None => Vec::new(),
        }
    }

    fn units(&self, profile: &Profile) -> Vec<String> {
        let users = profile.services.syncthing.iter().flat_map(|s| &s.users);
        users
            .map(|user| format!("syncthing@{}.service", user.name))
            .collect()
    }

    fn files(&self, profile: &Profile) -> Vec<File> {
        let Some(syncthing) = &profile.services.syncthing else {
            return Vec::new();
        };
        let drop_in_of =
            |user: &SyncthingUser| File::public(drop_in_path(&user.name), drop_in(syncthing, user));
        syncthing.users.iter().map(drop_in_of).collect()
    }

    fn ports(&self, profile: &Profile) -> Vec<Port> {
        let users = profile.services.syncthing.iter().flat_map(|s| &s.users);
        let mut ports = Vec::new();
        for (i, user) in users.enumerate() {
            let owner = format!("syncthing of {}", user.name);
            let key = format!("services.syncthing.users[{i}]");
            ports.push(Port::tcp(user.gui_port, &owner, format!("{key}.gui-port")));
            ports.push(Port::tcp(sync_port(i), &owner, key.clone()));
            ports.push(Port::udp(sync_port(i), &owner, key));
        }
        ports
    }

    fn first_boot(&self, profile: &Profile) -> Vec<FirstBootStep> {
        let users = profile.services.syncthing.iter().flat_map(|s| &s.users);
        let step = |(i, user): (usize, &SyncthingUser)| {
            FirstBootStep::new(
                "syncthing",
                format!(
                    "create the configuration of {} with a folder on {}",
                    user.name, user.dataset
                ),
                Task::Syncthing {
                    user: user.name.clone(),
                    path: crate::datasets::mounted_at(profile, &user.dataset),
                    sync_port: sync_port(i),
                },
            )
        };
        users.enumerate().map(step).collect()
    }

    fn check(&self, profile: &Profile, ctx: &Context, out: &mut Findings) {
        let users = profile.services.syncthing.iter().flat_map(|s| &s.users);
        let at = KeyPath::root()
            .key("services")
            .key("syncthing")
            .key("users");
        for (i, user) in users.enumerate() {
            ctx.user(out, at.index(i).key("name"), &user.name);
            ctx.dataset(out, at.index(i).key("dataset"), &user.dataset);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_user_listens_on_their_own_port_once() {
        let config = "<options>\n        <listenAddress>default</listenAddress>\n</options>\n";
        let once = with_listen_port(config, 22001).expect("made explicit");
        assert!(once.contains("<listenAddress>tcp://:22001</listenAddress><listenAddress>quic://:22001</listenAddress>"));
        assert_eq!(with_listen_port(&once, 22001), None);
    }

    #[test]
    fn the_folder_is_added_once() {
        let config =
            "<configuration version=\"37\">\n    <gui enabled=\"true\"></gui>\n</configuration>\n";
        let path = Path::new("/tank/sync/admin");
        let once = with_folder(config, "admin", path).expect("added");
        assert!(once.contains(
            "<folder id=\"admin-hearth\" label=\"admin on Hearth\" path=\"/tank/sync/admin\""
        ));
        assert!(once.ends_with("</folder>\n</configuration>\n"), "{once}");
        assert_eq!(with_folder(&once, "admin", path), None);
    }
}
