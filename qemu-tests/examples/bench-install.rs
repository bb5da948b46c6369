//! Prints what an install costs, measured in one QEMU boot: each install
//! step from the installer's own log beside the floor (an `unsquashfs` of
//! the same base layer, with the installer's own options, into a scratch
//! dataset of the same root pool, page cache dropped first), the ratio to
//! the goal (1.1x the floor plus 10 s), the power-off, and power-on to the
//! installed system ready. `--explore` also times unsquashfs's processors
//! and the root dataset's compression. Needs root and QEMU; the disks are
//! derived from the profile's pools.
//!
//!     cargo run --release -p qemu-tests --example bench-install [-- PROFILE] [--bios] [--explore]
//!
//! The ISO is the profile's own (built, or taken from the cache), or $HEARTH_ISO.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use hearth_schema::profile::{PoolRole, Profile};
use qemu_tests::machine::{Builder, Disk, Firmware, Machine, Medium};
use qemu_tests::test_machine::{answer_text, disks as machine_disks, load_profile};
use qemu_tests::{accel, iso, ssh};

const SCRATCH: &str = "/mnt/hearth-bench";

struct Bench {
    profile: String,
    firmware: Firmware,
    explore: bool,
    dir: PathBuf,
    rows: Vec<(String, String)>,
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(why) = iso::unavailable() {
        bail!("bench-install cannot run here: {why}");
    }
    let profile = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .cloned()
        .unwrap_or_else(|| "homelab".into());
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/qemu-tests/bench-install");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let mut bench = Bench {
        firmware: if args.iter().any(|a| a == "--bios") {
            Firmware::Bios
        } else {
            Firmware::Uefi
        },
        explore: args.iter().any(|a| a == "--explore"),
        profile,
        dir,
        rows: Vec::new(),
    };
    bench.run()?;
    let table = bench.table();
    print!("{table}");
    let kept = bench.dir.join(format!("{}.txt", bench.profile));
    std::fs::write(&kept, &table)?;
    eprintln!("kept in {}", kept.display());
    Ok(())
}

impl Bench {
    fn run(&mut self) -> Result<()> {
        let iso = iso::built(&self.profile).context("building the ISO")?;
        let profile = load_profile(&self.profile)?;
        let disks = machine_disks(&profile, &self.dir, "bench")?;
        let (key, public) = ssh::key_pair(&self.dir)?;
        let answer = self.dir.join("answer.toml");
        std::fs::write(&answer, answer_text(&profile, "bench", &public, "stay"))?;
        let unattended = self.dir.join("unattended.iso");
        image_builder::inject::inject(&iso, &answer, &unattended)?;
        let accel = accel::choose(&iso::kernel_of(&iso, &self.dir)?);

        let mut builder = Builder::new("install", &self.dir)
            .firmware(self.firmware)
            .memory(3072)
            .iso(&unattended, Medium::Cdrom);
        for disk in &disks {
            builder = builder.disk(disk);
        }
        let power_on = Instant::now();
        let mut live = builder.start(accel)?;
        let long = live.scaled(300);
        live.wait_for_console("HEARTH-INSTALL-START", long)?;
        let start = power_on.elapsed();
        let outcome = live.wait_for_console(r"HEARTH-INSTALL-(DONE|FAILED[^\n]*)", long * 3)?;
        let done = power_on.elapsed();
        if !outcome.starts_with("HEARTH-INSTALL-DONE") {
            bail!("{outcome}; see {}", live.log.display());
        }
        live.send("\n")?;
        live.take_shell(live.scaled(60))?;
        let log = live.succeed("cat /run/hearth/install.log", live.scaled(60))?;
        std::fs::write(self.dir.join("install.log"), &log)?;
        // What the live system runs beside the installer: none of the image's services.
        let running = live.succeed(
            "systemctl list-units --state=running --type=service --no-legend --plain | cut -d' ' -f1 | paste -sd' '",
            live.scaled(60),
        )?;
        let rebuilt = log.contains("update-initramfs") || log.contains("dpkg --purge live-boot");
        self.row("ISO power-on to install start", secs(start));
        self.row("live system: services running", running);
        self.row(
            "install: initramfs rebuilt",
            if rebuilt { "yes" } else { "no" }.into(),
        );
        let steps = install_steps(&log);
        let floor = self.floor(&mut live, &profile, &[], &[])?;
        self.step_rows(&steps, floor);
        let total = (done - start).as_secs_f64();
        let goal = 1.1 * floor + 10.0;
        self.row("install start to done", format!("{total:.1} s"));
        self.row(
            "floor: unsquashfs into the root pool, cold",
            format!("{floor:.1} s"),
        );
        self.row(
            "install / floor",
            format!(
                "{:.2}x (goal: at most 1.1x + 10 s = {goal:.1} s: {})",
                total / floor,
                if total <= goal { "met" } else { "not met" }
            ),
        );
        if self.explore {
            self.explore(&mut live, &profile)?;
        }
        let off = Instant::now();
        live.send("systemctl poweroff\n")?;
        live.wait_for_exit(live.scaled(120))?;
        self.row("install done to power-off", secs(off.elapsed()));
        live.kill();
        self.installed(&disks, accel, &key)
    }

    /// Power-on of the installed system to its login prompt, and to
    /// `systemctl is-system-running --wait` (first-boot provisioning included).
    fn installed(&mut self, disks: &[Disk], accel: accel::Accel, key: &Path) -> Result<()> {
        let port = ssh::free_port()?;
        let mut builder = Builder::new("first-boot", &self.dir)
            .firmware(self.firmware)
            .ssh_forward(port);
        for disk in disks {
            builder = builder.disk(disk);
        }
        let power_on = Instant::now();
        let mut server = builder.start(accel)?;
        server.wait_for_console("login:", server.scaled(120))?;
        self.row(
            "installed: power-on to login prompt",
            secs(power_on.elapsed()),
        );
        ssh::wait(key, port, "root", server.scaled(60))?;
        let state = ssh::run(
            key,
            port,
            "root",
            "systemctl is-system-running --wait; systemctl --failed --no-legend --plain | cut -d' ' -f1 | paste -sd' '",
        )?;
        let state = state.split_whitespace().collect::<Vec<_>>().join(" ");
        self.row(
            "installed: power-on to system ready",
            format!("{} ({state})", secs(power_on.elapsed())),
        );
        server.kill();
        Ok(())
    }

    /// The floor: the base layer unpacked by the installer's own command
    /// into a scratch dataset of the root pool with `properties`, after the
    /// page cache is dropped (the install read it cold too). Seconds.
    fn floor(
        &mut self,
        live: &mut Machine,
        profile: &Profile,
        options: &[&str],
        extra: &[&str],
    ) -> Result<f64> {
        let root = root_pool(profile)?;
        let dataset = format!("{root}/hearth-bench");
        let set: String = options.iter().map(|o| format!(" -o {o}")).collect();
        let mut unpack = hearth_system::medium::unpack_args(
            &Path::new("/run/live/medium").join(hearth_system::medium::BASE_SQUASHFS),
            Path::new(SCRATCH).join("floor").as_path(),
        );
        unpack.splice(0..0, extra.iter().map(|e| e.to_string()));
        unpack.insert(0, "unsquashfs".into());
        let script = format!(
            "zpool import -N -R {SCRATCH} {root}; \
             zfs create{set} -o mountpoint=/floor {dataset}; \
             sync; echo 3 > /proc/sys/vm/drop_caches; \
             s=$(date +%s.%N); {} > /dev/null; sync; e=$(date +%s.%N); \
             zfs destroy {dataset}; zpool export {root}; \
             echo \"FLOOR $s $e\"",
            unpack.join(" ")
        );
        let out = live.succeed(&script, live.scaled(900))?;
        parse_floor(&out)
    }

    /// The unpack under other settings, each measured as the floor is.
    fn explore(&mut self, live: &mut Machine, profile: &Profile) -> Result<()> {
        let variants: [(&str, &[&str], &[&str]); 6] = [
            ("compression=lz4", &["compression=lz4"], &[]),
            ("compression=zstd", &["compression=zstd"], &[]),
            ("compression=off", &["compression=off"], &[]),
            ("unsquashfs -p 1", &[], &["-p", "1"]),
            ("unsquashfs -p <guest cpus>", &[], &["-p", "$(nproc)"]),
            ("unsquashfs -da 64 -fr 64", &[], &["-da", "64", "-fr", "64"]),
        ];
        for (what, options, extra) in variants {
            let seconds = self.floor(live, profile, options, extra)?;
            self.row(
                &format!("explore: unpack, {what}"),
                format!("{seconds:.1} s"),
            );
        }
        Ok(())
    }

    /// Each install step beside the floor, with the processors' load.
    fn step_rows(&mut self, steps: &[Step], floor: f64) {
        for Step {
            name,
            seconds,
            busy,
        } in steps
        {
            let busy = busy.as_ref().map(|b| format!(", {b}")).unwrap_or_default();
            self.row(
                name,
                format!(
                    "{seconds:.1} s  ({:.2} of the floor{busy})",
                    seconds / floor
                ),
            );
        }
    }

    fn row(&mut self, what: &str, value: String) {
        eprintln!("{what}: {value}");
        self.rows.push((what.to_string(), value));
    }

    fn table(&self) -> String {
        let mut out = format!(
            "bench-install: profile {}, {:?}, {} ({} cores)\n",
            self.profile,
            self.firmware,
            today(),
            std::thread::available_parallelism().map_or(1, |n| n.get())
        );
        for (what, value) in &self.rows {
            let _ = writeln!(out, "  {what:<42} {value}");
        }
        out
    }
}

fn today() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

fn root_pool(profile: &Profile) -> Result<String> {
    let pool = profile
        .storage
        .pools
        .iter()
        .find(|p| p.role == PoolRole::Root)
        .context("the profile has no root pool")?;
    if pool.encryption.is_some() {
        bail!("bench-install measures unencrypted root pools: the floor's scratch dataset would need the key");
    }
    Ok(pool.name.clone())
}

/// One timed step of the install log.
struct Step {
    name: String,
    seconds: f64,
    /// `CPUs 1.31 of 2 busy`, which the installer logs after the time.
    busy: Option<String>,
}

/// The `[n] step: done in 12.3s` lines of the install log, in order, each
/// with the `[n] step: CPUs .. busy` line that follows it.
fn install_steps(log: &str) -> Vec<Step> {
    let pattern =
        regex::Regex::new(r"\[\d+\] (.+): (?:done in ([0-9.]+)s|(CPUs [0-9.]+ of \d+ busy))")
            .expect("a valid regex");
    let mut steps: Vec<Step> = Vec::new();
    for c in pattern.captures_iter(log) {
        if let Some(seconds) = c.get(2).and_then(|s| s.as_str().parse().ok()) {
            steps.push(Step {
                name: c[1].to_string(),
                seconds,
                busy: None,
            });
        } else if let (Some(busy), Some(last)) = (c.get(3), steps.last_mut()) {
            if last.name == c[1] {
                last.busy = Some(busy.as_str().to_string());
            }
        }
    }
    steps
}

fn parse_floor(out: &str) -> Result<f64> {
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix("FLOOR "))
        .with_context(|| format!("no FLOOR line in:\n{out}"))?;
    let times: Vec<f64> = line
        .split_whitespace()
        .filter_map(|t| t.parse().ok())
        .collect();
    match times[..] {
        [start, end] => Ok(end - start),
        _ => bail!("unreadable FLOOR line: {line}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_take_their_own_processor_load() {
        let log = "+ 0.1s [1] partition the disks: done in 4.5s\n\
                   + 0.1s [1] partition the disks: CPUs 1.90 of 2 busy\n\
                   + 0.2s [2] create pools: done in 6.6s\n\
                   + 0.3s [3] unpack: CPUs 1.97 of 2 busy\n";
        let steps = install_steps(log);
        let read: Vec<_> = steps
            .iter()
            .map(|s| (s.name.as_str(), s.seconds, s.busy.as_deref()))
            .collect();
        assert_eq!(
            read,
            [
                ("partition the disks", 4.5, Some("CPUs 1.90 of 2 busy")),
                ("create pools", 6.6, None),
            ]
        );
    }
}
