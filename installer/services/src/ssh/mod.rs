//! The OpenSSH server: always on, on the profile's port, with the root
//! login the profile allows.

use crate::keypath::KeyPath;
use crate::ports::Port;
use crate::profile::{Profile, RootLogin};
use crate::Kept;
use crate::{Context, File, Service};
use hearth_schema::validate::Findings;

pub const PATH: &str = "/etc/ssh/sshd_config.d/hearth.conf";

/// sshd's drop-in: port, root login, password logins.
pub fn sshd_conf(profile: &Profile) -> String {
    let root = match profile.system.root_login {
        RootLogin::Disabled => "no",
        RootLogin::KeyOnly => "prohibit-password",
        RootLogin::Password => "yes",
    };
    let ssh = &profile.services.ssh;
    let passwords = if ssh.password_authentication {
        "yes"
    } else {
        "no"
    };
    format!("# Written by the Hearth installer from the profile.\nPort {}\nPermitRootLogin {root}\nPasswordAuthentication {passwords}\nKbdInteractiveAuthentication no\n", ssh.port)
}

pub struct SshServer;

impl Service for SshServer {
    fn kept(&self, _profile: &Profile) -> Vec<Kept> {
        ["ed25519", "ecdsa", "rsa"]
            .iter()
            .flat_map(|kind| {
                let key = format!("/etc/ssh/ssh_host_{kind}_key");
                [format!("{key}.pub"), key]
            })
            .map(|path| Kept::new(path, "SSH host keys"))
            .collect()
    }

    fn packages(&self, _profile: &Profile) -> Vec<&'static str> {
        vec!["openssh-server"]
    }

    fn units(&self, _profile: &Profile) -> Vec<String> {
        vec!["ssh.service".into()]
    }

    fn files(&self, profile: &Profile) -> Vec<File> {
        vec![File::public(PATH, sshd_conf(profile))]
    }

    fn check(&self, profile: &Profile, _ctx: &Context, out: &mut Findings) {
        // PermitRootLogin yes beside PasswordAuthentication no would say one
        // thing and do another.
        if profile.system.root_login == RootLogin::Password
            && !profile.services.ssh.password_authentication
        {
            out.push(
                KeyPath::root().key("system").key("root-login"),
                "root-login = \"password\" needs [services.ssh] password-authentication = true; allowed otherwise: \"key-only\" or \"disabled\"",
            );
        }
    }

    fn ports(&self, profile: &Profile) -> Vec<Port> {
        vec![Port::tcp(
            profile.services.ssh.port,
            "ssh",
            "services.ssh.port",
        )]
    }
}
