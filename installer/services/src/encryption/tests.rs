use super::*;
use crate::profile::Network;

fn encrypted_root(remote: bool) -> Profile {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../profiles/minimal.toml");
    let mut profile = crate::load_profile(std::path::Path::new(path))
        .expect("the minimal profile loads")
        .value;
    let root = profile
        .storage
        .pools
        .iter_mut()
        .find(|p| p.role == PoolRole::Root)
        .expect("a root pool");
    root.encryption = Some(Encryption {
        key: KeySource::Passphrase,
        key_file: None,
        remote_unlock: remote,
    });
    profile
        .system
        .root_ssh_keys
        .push("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKey admin@laptop".into());
    profile
}

#[test]
fn the_initramfs_gets_dhcp_or_the_static_address() {
    let mut profile = encrypted_root(true);
    assert_eq!(kernel_args(&profile).as_deref(), Some("ip=dhcp"));
    profile.network = Network {
        interface: "name:enp1s0".into(),
        addressing: Addressing::Static,
        address: Some("192.168.1.10/24".into()),
        gateway: Some("192.168.1.1".into()),
        ..Network::default()
    };
    assert_eq!(
        kernel_args(&profile).as_deref(),
        Some("ip=192.168.1.10::192.168.1.1:255.255.255.0::enp1s0:off")
    );
    profile.network.gateway = Some("fd00::1".into());
    assert!(
        kernel_args(&profile).is_none(),
        "an IPv6 gateway cannot go into ip="
    );
    profile.network.gateway = Some("192.168.1.1".into());
    profile.network.address = Some("fd00::10/64".into());
    assert!(kernel_args(&profile).is_none());
    assert!(unreachable_address(&profile).is_some());
}

#[test]
fn a_nic_named_by_mac_is_found_by_bootif() {
    let mut profile = encrypted_root(true);
    profile.network.interface = "mac:52:54:00:AA:BB:CC".into();
    assert_eq!(
        kernel_args(&profile).as_deref(),
        Some("ip=dhcp BOOTIF=01-52-54-00-aa-bb-cc")
    );
}

#[test]
fn without_remote_unlock_the_initramfs_stays_offline() {
    let profile = encrypted_root(false);
    assert!(kernel_args(&profile).is_none());
    assert!(PoolEncryption.packages(&profile).is_empty());
    let files = PoolEncryption.files(&profile);
    assert_eq!(files.len(), 1, "only the console prompt: {files:?}");
}

#[test]
fn remote_unlock_takes_roots_keys_only_without_forwarding() {
    let profile = encrypted_root(true);
    let files = PoolEncryption.files(&profile);
    let keys = files
        .iter()
        .find(|f| f.path.ends_with("authorized_keys"))
        .expect("authorized_keys");
    assert_eq!(keys.mode, crate::Mode::PRIVATE);
    assert!(keys
        .content
        .contains("no-port-forwarding,no-agent-forwarding,no-X11-forwarding ssh-ed25519 AAAA"));
    assert_eq!(
        PoolEncryption.packages(&profile),
        vec!["dropbear-initramfs"]
    );
    let kept = PoolEncryption.kept(&profile);
    assert!(kept
        .iter()
        .any(|k| k.path.ends_with("dropbear_ed25519_host_key")));
}
