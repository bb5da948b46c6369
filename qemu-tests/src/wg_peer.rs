//! A WireGuard peer on the host, from a client config the guest wrote: the
//! host kernel has no WireGuard module, so wireguard-go makes the interface.
//! Only the server's tunnel address is routed through it, and the interface
//! goes away when the peer is dropped.
//!
//! Scenarios run side by side in one process and their servers share a
//! tunnel address, so one host peer exists at a time: two would each route
//! that address, and a reply could come in on the interface the route does
//! not name.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// Whether this process has a host peer, and the wake-up when it goes.
static TAKEN: Mutex<bool> = Mutex::new(false);
static FREED: Condvar = Condvar::new();
/// Numbers this process's interfaces, so none reuses another's name.
static MADE: AtomicU32 = AtomicU32::new(0);

pub struct Peer {
    pub iface: String,
    child: Child,
    // Dropped last, after the interface is gone.
    _turn: Turn,
}

/// The one host peer's turn: taken when free, given back on drop.
struct Turn;

impl Turn {
    fn take() -> Turn {
        let mut taken = TAKEN.lock().unwrap_or_else(PoisonError::into_inner);
        while *taken {
            taken = FREED.wait(taken).unwrap_or_else(PoisonError::into_inner);
        }
        *taken = true;
        Turn
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        *TAKEN.lock().unwrap_or_else(PoisonError::into_inner) = false;
        FREED.notify_one();
    }
}

/// The value of `key = value` in a wg-quick config.
fn value<'a>(conf: &'a str, key: &str) -> Option<&'a str> {
    conf.lines().find_map(|line| {
        let (k, v) = line.split_once('=')?;
        (k.trim() == key).then(|| v.trim())
    })
}

fn run(program: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .with_context(|| format!("{program} {}", args.join(" ")))?;
    if !out.status.success() {
        bail!(
            "{program} {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).to_string())
}

/// Why a host peer cannot be made here, if it cannot.
pub fn unavailable() -> Option<String> {
    if !Path::new("/dev/net/tun").exists() {
        return Some("no /dev/net/tun".into());
    }
    for (tool, package) in [
        ("wireguard-go", "wireguard-go"),
        ("wg", "wireguard-tools"),
        ("ping", "iputils-ping"),
        ("ip", "iproute2"),
    ] {
        if Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .map_or(true, |o| !o.status.success())
        {
            return Some(format!("{tool} is not installed (apt install {package})"));
        }
    }
    None
}

impl Peer {
    /// Brings up the peer of `client_conf`, dialling the server at
    /// 127.0.0.1:`port` (a forward to the guest's WireGuard port), with
    /// /32 routes to `through` (the server's tunnel address, hosts on its
    /// LAN) through it.
    pub fn up(client_conf: &str, port: u16, through: &[&str], dir: &Path) -> Result<Peer> {
        let private = value(client_conf, "PrivateKey").context("no PrivateKey")?;
        let address = value(client_conf, "Address").context("no Address")?;
        let public = value(client_conf, "PublicKey").context("no PublicKey")?;
        let turn = Turn::take();
        let iface = format!(
            "hwg{}n{}",
            std::process::id() % 100_000,
            MADE.fetch_add(1, Ordering::Relaxed) % 1000
        );
        let conf: PathBuf = dir.join(format!("{iface}.conf"));
        std::fs::write(
            &conf,
            format!("[Interface]\nPrivateKey = {private}\n\n[Peer]\nPublicKey = {public}\nEndpoint = 127.0.0.1:{port}\nAllowedIPs = {allowed}\nPersistentKeepalive = 5\n", allowed = through.iter().map(|a| format!("{a}/32")).collect::<Vec<_>>().join(", ")),
        )?;
        let child = Command::new("wireguard-go")
            .args(["-f", &iface])
            // wireguard-go refuses to run on Linux unless told it is wanted.
            .env("WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD", "1")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join(format!("{iface}.log")))?)
            .spawn()
            .context("wireguard-go")?;
        let peer = Peer {
            iface,
            child,
            _turn: turn,
        };
        let socket = PathBuf::from(format!("/var/run/wireguard/{}.sock", peer.iface));
        let started = Instant::now();
        while !socket.exists() {
            if started.elapsed() > Duration::from_secs(10) {
                bail!("wireguard-go made no {}", socket.display());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let iface = peer.iface.as_str();
        run("wg", &["setconf", iface, &conf.display().to_string()])?;
        run("ip", &["address", "add", address, "dev", iface])?;
        run("ip", &["link", "set", iface, "up"])?;
        for address in through {
            run(
                "ip",
                &["route", "replace", &format!("{address}/32"), "dev", iface],
            )?;
        }
        Ok(peer)
    }

    /// `ping` through the tunnel; true when `address` answers.
    pub fn ping(&self, address: &str) -> bool {
        Command::new("ping")
            .args(["-c", "3", "-W", "5", "-I", &self.iface, address])
            .output()
            .is_ok_and(|o| o.status.success())
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "delete", &self.iface])
            .output();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
