//! The host's WireGuard peers (root: wireguard-go opens /dev/net/tun;
//! elsewhere the test says why it skips). Scenarios run side by side, so
//! a second peer must wait until the first is gone and never reuse its
//! interface.

use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use hearth_system::runner::Runner;
use qemu_tests::wg_peer::{unavailable, Peer};

fn key_pair() -> (String, String) {
    // The same two calls first boot makes for the server's keys.
    let runner = Runner::new(None, false).expect("a runner");
    let private = runner
        .run_secret("wg", &["genkey"], None)
        .expect("wg genkey");
    let private = private.trim().to_string();
    let public = runner
        .run_secret("wg", &["pubkey"], Some(&private))
        .expect("wg pubkey");
    (private, public.trim().to_string())
}

fn link_exists(iface: &str) -> bool {
    Command::new("ip")
        .args(["link", "show", iface])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn host_peers_take_turns_needs_root() {
    if let Some(why) = unavailable() {
        eprintln!("SKIP: {why}");
        return;
    }
    if std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
        .is_err()
    {
        eprintln!("SKIP: /dev/net/tun cannot be opened (needs root; CI runs as root)");
        return;
    }
    let (private, _) = key_pair();
    let (_, server) = key_pair();
    // Nothing answers on the discard port: the peers only need to exist.
    let conf = format!(
        "[Interface]\nPrivateKey = {private}\nAddress = 198.51.100.2/32\n\n[Peer]\nPublicKey = {server}\n"
    );
    let dir = std::env::temp_dir().join(format!("hearth-wg-peer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let first = Peer::up(&conf, 9, &["198.51.100.1"], &dir).expect("the first peer");
    let (made, second_made) = mpsc::channel();
    let (conf2, dir2) = (conf.clone(), dir.clone());
    let second = std::thread::spawn(move || {
        let peer = Peer::up(&conf2, 9, &["198.51.100.1"], &dir2).expect("the second peer");
        made.send(peer.iface.clone()).expect("send");
        peer
    });
    assert!(
        second_made.recv_timeout(Duration::from_secs(3)).is_err(),
        "a second peer came up while {} was there",
        first.iface
    );
    let first_iface = first.iface.clone();
    drop(first);
    assert!(
        !link_exists(&first_iface),
        "{first_iface} outlived its peer"
    );
    let second_iface = second_made
        .recv_timeout(Duration::from_secs(20))
        .expect("the second peer once the first was gone");
    assert_ne!(first_iface, second_iface, "an interface name reused");
    assert!(link_exists(&second_iface), "{second_iface} is there");
    drop(second.join().expect("the second peer's thread"));
    assert!(
        !link_exists(&second_iface),
        "{second_iface} outlived its peer"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
