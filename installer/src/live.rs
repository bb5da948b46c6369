//! What the installer does on the booted ISO's consoles (tty1, ttyS0):
//! report what this live system is (installer version, profile, whether the
//! zfs module loads), install (from an answer file, or by asking), then hand
//! over the console.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use anyhow::Result;

use crate::answer::AfterInstall;
use crate::console::mark;
use crate::install::source::{cmdline_value, Found};
use crate::interactive::Confirmed;
use crate::medium::Share;
use crate::runner::Runner;
use hearth_system::secure_boot;

pub fn run(tty: Option<&Path>) -> Result<()> {
    let cmdline = fs::read_to_string("/proc/cmdline").unwrap_or_default();
    let profile = cmdline_value(&cmdline, "hearth.profile")
        .or_else(|| {
            fs::read_to_string(Share::live().default_profile())
                .ok()
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let runner = Runner::new(None, false)?;
    let secure_boot = secure_boot::state();
    let zfs = match runner.run("modprobe", &["zfs"]) {
        Ok(_) => fs::read_to_string("/sys/module/zfs/version")
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|_| "loaded".into()),
        Err(err) => {
            println!("zfs module: cannot be loaded: {err:#}");
            "missing".into()
        }
    };
    let version = env!("CARGO_PKG_VERSION");
    println!("Hearth installer {version}: live system for profile {profile}");
    println!("zfs module: {zfs}");
    println!("Secure Boot: {}", secure_boot.word());
    if zfs == "missing" && secure_boot == secure_boot::State::Enabled {
        print!("{}", enrolment_help());
        mark("HEARTH-SECUREBOOT-KEY-NOT-ENROLLED");
    }
    // The kernel's log reaches the serial console even while a getty or the
    // installer owns it: the line the QEMU tests wait for.
    if let Ok(mut kmsg) = OpenOptions::new().write(true).open("/dev/kmsg") {
        let tty = tty.map(|t| t.display().to_string()).unwrap_or_default();
        // One write is one kernel log record.
        let line = format!(
            "<2>HEARTH-LIVE installer={version} zfs={zfs} profile={profile} console={tty} secureboot={}\n",
            secure_boot.word()
        );
        let _ = kmsg.write_all(line.as_bytes());
    }
    if cmdline_value(&cmdline, "hearth.mode").as_deref() != Some("shell") {
        install_here(&cmdline, &runner)?;
    }
    let err = Command::new("/bin/bash").arg("--login").exec();
    Err(anyhow::anyhow!("starting a shell: {err}"))
}

/// What to do when Secure Boot refuses the zfs module: enroll the build's
/// certificate as a Machine Owner Key, once per machine.
fn enrolment_help() -> String {
    let cert = format!("{}/{}", secure_boot::DIR, secure_boot::BUILD_CERT);
    format!(
        "\nSecure Boot is on, and this machine does not yet trust the key that\n\
         signed Hearth's zfs module. Enroll Hearth's certificate once:\n\
         \n  1. On this console: mokutil --import {cert}\n\
         \x20    and choose a one-time password.\n\
         \x20 2. Reboot from this medium. In the blue MokManager screen choose\n\
         \x20    \"Enroll MOK\", \"Continue\", \"Yes\", type that password, then \"Reboot\".\n\
         \nOr, in MokManager: \"Enroll key from disk\", the medium's EFI partition,\n\
         {}. Or turn Secure Boot off in the firmware's setup.\n\n",
        secure_boot::BUILD_CERT
    )
}

/// With an answer file, installs unattended (one console does it, the other
/// waits); without one, asks on the console where Enter is pressed. Then
/// powers off or reboots as the answer says.
fn install_here(cmdline: &str, runner: &Runner) -> Result<()> {
    let work = Path::new("/run/hearth");
    let found = match discover_once(cmdline, work, runner) {
        Ok(found) => found,
        Err(err) => {
            println!("No install: {err}");
            let line = err.replace('\n', " | ");
            mark(&format!("HEARTH-INSTALL-FAILED finding the answer: {line}"));
            return Ok(());
        }
    };
    let (answer, what) = match found {
        Some(found) => {
            if !claim(work) {
                println!(
                    "Installing from {} on another console; the log is /run/hearth/install.log",
                    found.origin
                );
                return Ok(());
            }
            println!(
                "Installing unattended with the answer from {}",
                found.origin
            );
            (found.path.clone(), ["--answer".into(), found.path])
        }
        // The plan the person confirmed is the one that runs.
        None => match interactive(work)? {
            Some(confirmed) => {
                mark(&format!(
                    "HEARTH-PLAN-CONFIRMED sha256={}",
                    hearth_system::files::sha256_file(&confirmed.plan).unwrap_or_default()
                ));
                (confirmed.answer, ["--plan".into(), confirmed.plan])
            }
            None => return Ok(()),
        },
    };
    mark("HEARTH-INSTALL-START");
    let log = work.join("install.log");
    // A mount namespace of its own: the target's mounts must not propagate
    // into services' namespaces, where they would keep the pools busy.
    let exe = std::env::current_exe().unwrap_or_else(|_| "/usr/bin/hearth".into());
    let status = Command::new("unshare")
        .args(["--mount", "--propagation", "private"])
        .arg(&exe)
        .arg("install")
        .args(what)
        .arg("--log")
        .arg(&log)
        .status();
    let answer = fs::read_to_string(&answer).unwrap_or_default();
    if !status.is_ok_and(|s| s.success()) {
        let text = fs::read_to_string(&log).unwrap_or_default();
        let last = text
            .lines()
            .rev()
            .find(|l| l.starts_with("# error"))
            .unwrap_or("see /run/hearth/install.log");
        println!("The install failed; the log is {}", log.display());
        mark(&format!("HEARTH-INSTALL-FAILED {last}"));
        report(
            &answer,
            work,
            Some(last.trim_start_matches("# ").to_string()),
        );
        return Ok(());
    }
    mark("HEARTH-INSTALL-DONE");
    report(&answer, work, None);
    match after_install(&answer) {
        AfterInstall::Poweroff => runner.run("systemctl", &["poweroff"]).map(drop),
        AfterInstall::Reboot => runner.run("systemctl", &["reboot"]).map(drop),
        AfterInstall::Stay => Ok(()),
    }
}

/// The answer's source, found once: the first console looks (and asks the
/// answer server, once per boot), the other waits for what it found.
fn discover_once(cmdline: &str, work: &Path, runner: &Runner) -> Result<Option<Found>, String> {
    let found = (|| -> Result<Result<Option<Found>, String>> {
        fs::create_dir_all(work)?;
        let lock = fs::File::create(work.join("discover.lock"))?;
        lock.lock()?;
        let kept = work.join("discovered.json");
        if let Ok(text) = fs::read_to_string(&kept) {
            return Ok(serde_json::from_str(&text)?);
        }
        let medium = Path::new("/run/live/medium");
        let found = crate::install::source::discover(cmdline, medium, work, runner)
            .map_err(|err| format!("{err:#}"));
        fs::write(&kept, serde_json::to_string(&found)?)?;
        Ok(found)
    })();
    found.unwrap_or_else(|err| Err(format!("{err:#}")))
}

/// The report the answer asks for (`[report]`), sent and said so.
fn report(answer: &str, work: &Path, error: Option<String>) {
    #[derive(serde::Deserialize)]
    struct Only {
        #[serde(default)]
        hostname: Option<String>,
        #[serde(default)]
        report: Option<crate::answer::ReportTo>,
    }
    let Ok(Only {
        hostname,
        report: Some(to),
    }) = toml::from_str::<Only>(answer)
    else {
        return;
    };
    let log = fs::read_to_string(work.join("install.log")).unwrap_or_default();
    let summary = fs::read_to_string(work.join(crate::install::SUMMARY))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok());
    let built = crate::fleet::report::build(
        &hostname.unwrap_or_default(),
        summary,
        error,
        &log,
        machine(),
    );
    match crate::fleet::report::send(&to, &built) {
        Ok(()) => mark(&format!(
            "HEARTH-REPORT-SENT {} outcome={}",
            to.url, built.outcome
        )),
        Err(err) => mark(&format!("HEARTH-REPORT-FAILED {err:#}")),
    }
}

fn machine() -> crate::fleet::report::Machine {
    let read = |path: &str| {
        fs::read_to_string(path)
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    let nics = crate::fleet::facts::nics(Path::new("/sys/class/net"));
    crate::fleet::report::Machine {
        kernel: read("/proc/sys/kernel/osrelease"),
        zfs: read("/sys/module/zfs/version"),
        dmi_serial: read("/sys/class/dmi/id/product_serial"),
        macs: nics.into_iter().map(|n| n.mac).collect(),
    }
}

/// The first console to claim the install does it.
fn claim(work: &Path) -> bool {
    let _ = fs::create_dir_all(work);
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(work.join("install.lock"))
        .is_ok()
}

/// Without an answer file: Enter starts the questions, `shell` gives a shell.
fn interactive(work: &Path) -> Result<Option<Confirmed>> {
    let share = &Share::live();
    loop {
        println!("\nNo answer file was found. Press Enter to install interactively, or type `shell` for a root shell.");
        let mut line = String::new();
        if std::io::stdin().read_line(&mut line)? == 0 || line.trim() == "shell" {
            return Ok(None);
        }
        if !claim(work) {
            println!("The installer is already running on another console.");
            return Ok(None);
        }
        match crate::interactive::ask(share, &work.join("interactive")) {
            Ok(Some(confirmed)) => return Ok(Some(confirmed)),
            Ok(None) => {}
            Err(err) => println!("\n{err:#}"),
        }
        let _ = fs::remove_file(work.join("install.lock"));
    }
}

/// The answer's `after-install`, read on its own: the install has already
/// validated the whole file.
fn after_install(answer: &str) -> AfterInstall {
    #[derive(serde::Deserialize)]
    struct Only {
        #[serde(default, rename = "after-install")]
        after_install: AfterInstall,
    }
    toml::from_str::<Only>(answer)
        .map(|only| only.after_install)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_install_is_read_from_the_toml_not_matched_as_text() {
        assert_eq!(
            after_install("after-install='poweroff'\n"),
            AfterInstall::Poweroff
        );
        assert_eq!(
            after_install("profile = \"x\"\nafter-install   =   \"stay\""),
            AfterInstall::Stay
        );
        assert_eq!(after_install("profile = \"x\"\n"), AfterInstall::Reboot);
    }

    #[test]
    fn reads_kernel_arguments() {
        let cmdline = "boot=live hearth.profile=homelab console=ttyS0 hearth.mode=shell";
        assert_eq!(
            cmdline_value(cmdline, "hearth.profile").as_deref(),
            Some("homelab")
        );
        assert_eq!(
            cmdline_value(cmdline, "hearth.mode").as_deref(),
            Some("shell")
        );
        assert_eq!(cmdline_value(cmdline, "hearth.answer"), None);
    }
}
