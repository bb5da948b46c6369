//! Syncthing per user (the packaged syncthing@<user>.service): the GUI
//! address comes from a drop-in, the configuration and the user's folder on
//! their dataset are made at first boot, as the user.

use std::path::{Path, PathBuf};

use crate::profile::{GuiBind, Syncthing, SyncthingUser};

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
