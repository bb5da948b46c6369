//! The installer's command line. Each command is one function over the library.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::{Parser, Subcommand};

use std::time::Duration;

use crate::disk;
use crate::inventory;
use crate::plan;
use crate::prepare::{make_plan, read_plan, validate};
use crate::runner::Runner;

#[derive(Debug, Parser)]
#[command(
    name = "hearth",
    version,
    about = "Hearth: profile + answer + disks -> plan -> ZFS home server, and its care once installed"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List this machine's disks, what they hold, and which one runs the live system.
    Disks {
        #[arg(long)]
        json: bool,
        /// Count attached loop devices as disks (tests, image files).
        #[arg(long = "loop")]
        loops: bool,
    },
    /// Check a profile (and an answer file against it); print every problem.
    Validate {
        profile: PathBuf,
        #[arg(long)]
        answer: Option<PathBuf>,
    },
    /// Show what an install would do, touching nothing.
    Plan {
        /// Profile file, or the name of a shipped profile.
        #[arg(long)]
        profile: PathBuf,
        #[arg(long)]
        answer: Option<PathBuf>,
        /// Disk inventory saved with `hearth disks --json`; default: this machine.
        #[arg(long)]
        inventory: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Wipe, partition and format the disks a plan erases (`plan --json` output).
    Partition {
        #[arg(long)]
        plan: PathBuf,
        /// Check every disk and say what would be done; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Append every command and its output here.
        #[arg(long)]
        log: Option<PathBuf>,
        /// Seconds to wait for the kernel's partition nodes; 0: do not wait.
        #[arg(long, default_value_t = 30)]
        wait: u64,
    },
    /// Install (on the live system, as root) from an answer file, planned
    /// here, or from a plan already confirmed, after checking the disks are
    /// still the ones it was made for.
    Install {
        #[arg(long, required_unless_present = "plan", conflicts_with = "plan")]
        answer: Option<PathBuf>,
        /// A plan saved as JSON (the interactive install's confirmed plan).
        #[arg(long)]
        plan: Option<PathBuf>,
        #[arg(long, default_value = "/run/hearth/install.log")]
        log: PathBuf,
    },
    /// On the live system's consoles: report the system, then hand over the console.
    Live {
        #[arg(long)]
        tty: Option<PathBuf>,
    },
    /// On the installed system: carry out the plan's first-boot steps.
    /// Idempotent: a second run changes nothing and says so.
    Provision {
        #[arg(long, default_value = crate::provision::PLAN)]
        plan: PathBuf,
        /// What was done and when.
        #[arg(long, default_value = crate::provision::STATE)]
        state: PathBuf,
        #[arg(long, default_value = "/var/log/hearth/provision.log")]
        log: PathBuf,
    },
    /// On the installed system: put NEW in place of the failed mirror member
    /// OLD (as `zpool status -P` names it), with bootloader for the root pool.
    ReplaceDisk {
        old: String,
        new: String,
        /// The pool; default: the one that has OLD.
        #[arg(long)]
        pool: Option<String>,
        /// Use NEW even though it holds partitions or a pool.
        #[arg(long)]
        wipe: bool,
        #[arg(long)]
        dry_run: bool,
        #[arg(long, default_value = "/var/log/hearth/replace-disk.log")]
        log: PathBuf,
    },
    /// On the installed system: copy its keys, secrets and device identities
    /// (what a reinstall brings back) onto the data pool's state dataset.
    Keep,
    /// On the installed system: write the recovery kit (keys, secrets, plan,
    /// answer and profile, encrypted with a passphrase) to a new file, to
    /// keep off the server.
    RecoveryKit {
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
    },
    /// On the installed system: send an alert for an event (run by ZED,
    /// smartd and systemd) to the receivers of [alerts].
    Alert {
        #[command(subcommand)]
        source: crate::care::Source,
    },
    /// On the installed system: load the encryption keys of POOL's locked
    /// datasets (key file, or a passphrase asked on the console); run at
    /// boot by hearth-load-key@POOL.service.
    LoadKey { pool: String },
    /// On the installed system: send a test alert to every receiver and
    /// say what each did with it.
    AlertTest,
    /// On the installed system: pools, scrubs, SMART, failed units, pending
    /// security updates, snapshots, backups and free space; exit code 1
    /// when something needs attention.
    Status {
        #[arg(long)]
        json: bool,
        /// Also alert on what needs attention since the last check (hearth-care.timer).
        #[arg(long)]
        alert: bool,
    },
    /// On the installed system: upgrade a clone of the running boot
    /// environment and boot it next, as a trial; the running one stays
    /// bootable (hearth rollback).
    Upgrade {
        /// The new environment's name; default: hearth-<date>-<time>.
        name: Option<String>,
        #[arg(long, default_value = "/var/log/hearth/upgrade.log")]
        log: PathBuf,
    },
    /// On the installed system: boot an older environment from the next
    /// boot on, on every ESP: NAME, a snapshot ENV@SNAPSHOT (cloned into a
    /// new environment), or by default the one before the default.
    Rollback { target: Option<String> },
    /// On the installed system: boot environments.
    Be {
        #[command(subcommand)]
        action: BeAction,
    },
    /// Print the profile and answer file reference (Markdown).
    Reference,
    /// Serve answers to machines that boot with `hearth.answer=`, each one
    /// chosen by DIR/server.toml's rules over the facts it sends, filled
    /// from DIR/templates and checked before it is served; keep their
    /// install reports in DIR/reports. Optionally serve a netboot folder.
    AnswerServer {
        dir: PathBuf,
        #[arg(long, default_value = "0.0.0.0:8443")]
        listen: std::net::SocketAddr,
        /// Profiles answers are checked against, by the name a machine
        /// reports; default: DIR/profiles.
        #[arg(long)]
        profiles: Option<PathBuf>,
        /// A name or address for the self-signed certificate (repeatable).
        #[arg(long = "name", default_value = "localhost")]
        names: Vec<String>,
        /// A folder written by `image-builder build --netboot`, served over http.
        #[arg(long)]
        netboot: Option<PathBuf>,
        #[arg(long, default_value = "0.0.0.0:8080")]
        netboot_listen: std::net::SocketAddr,
    },
    /// Ask for a password (typed twice) and print the lines an answer file
    /// takes for a user: its crypt hash and Samba's NT hash. With stdin not a
    /// terminal, the password is the first line read.
    HashPassword,
    /// The zfs-receive account's forced command: runs the sender's
    /// SSH_ORIGINAL_COMMAND if it is `zfs receive` into DATASET.
    #[command(hide = true)]
    ReceiveGate {
        #[arg(long)]
        dataset: String,
    },
    /// On the installed system: restore one file of the latest cloud backup
    /// (FILE, or the snapshot's first) and compare it with the live file.
    RestoreTest {
        file: Option<PathBuf>,
        #[arg(long, default_value = "/var/log/hearth/restore-test.log")]
        log: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum BeAction {
    /// Every environment: running, next boot, fallback, failed.
    List,
    /// Destroy an environment (not the running or the default one).
    Destroy { name: String },
    /// Bring every ESP in step with every environment (the kernel and
    /// initramfs hooks run this).
    Sync,
    /// Snapshot the running environment (the APT hook runs this).
    Snapshot {
        #[arg(long)]
        before_apt: bool,
    },
    /// This boot reached multi-user (hearth-boot-ok.service).
    #[command(hide = true)]
    BootOk,
    /// A trial boot's time is up (hearth-boot-deadline.timer).
    #[command(hide = true)]
    Deadline,
}

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Disks { json, loops } => {
            let inventory = inventory::probe_with(loops)?;
            match json {
                true => println!("{}", serde_json::to_string_pretty(&inventory)?),
                false => print!("{}", inventory.report()),
            }
            Ok(())
        }
        Command::Partition {
            plan,
            dry_run,
            log,
            wait,
        } => {
            let plan = read_plan(&plan)?;
            let runner = Runner::new(log.as_deref(), dry_run)?;
            let wait = (wait > 0).then(|| Duration::from_secs(wait));
            disk::partition(&plan, &runner, &disk::Options { wait })
        }
        Command::Validate { profile, answer } => validate(&profile, answer.as_deref()),
        Command::Plan {
            profile,
            answer,
            inventory,
            json,
        } => print_plan(&profile, answer.as_deref(), inventory.as_deref(), json),
        Command::Live { tty } => crate::live::run(tty.as_deref()),
        Command::Install { answer, plan, log } => {
            let runner = Runner::new(Some(&log), false)?;
            crate::install::from_files(answer.as_deref(), plan.as_deref(), &log, &runner)
        }
        Command::Provision { plan, state, log } => {
            crate::provision::run_plan_file(&plan, &state, &logged(&log)?)
        }
        Command::ReplaceDisk {
            old,
            new,
            pool,
            wipe,
            dry_run,
            log,
        } => crate::replace::run(&old, &new, pool.as_deref(), wipe, dry_run, &logged(&log)?),
        Command::Keep => keep(),
        Command::RecoveryKit { output } => recovery_kit(&output),
        Command::Alert { source } => crate::care::alert(&source),
        Command::AlertTest => crate::care::alert_test(),
        // No log file: /var/log may be a dataset this very unit mounts after.
        Command::LoadKey { pool } => crate::unlock::load_key(&pool, &Runner::new(None, false)?),
        Command::Status { json, alert } => status(json, alert),
        Command::Upgrade { name, log } => crate::be::upgrade(name.as_deref(), &logged(&log)?),
        Command::Rollback { target } => {
            crate::be::rollback(target.as_deref(), &logged(Path::new(BE_LOG))?)
        }
        Command::Be { action } => be(action),
        Command::AnswerServer { .. } => answer_server(cli.command),
        Command::Reference => {
            print!("{}", crate::reference::markdown());
            Ok(())
        }
        Command::HashPassword => crate::interactive::hash_password(),
        Command::ReceiveGate { dataset } => receive_gate(&dataset),
        Command::RestoreTest { file, log } => {
            let env = Path::new(crate::services::restic::ENV);
            let runner = logged(&log)?;
            let report = crate::restore_test::run(env, file.as_deref(), &runner)?;
            runner.note(&report);
            println!("{report}");
            Ok(())
        }
    }
}

const BE_LOG: &str = "/var/log/hearth/boot-environments.log";

fn be(action: BeAction) -> Result<()> {
    // The hooks may run before /var/log is mounted (an initramfs update early on).
    let runner = match Path::new("/var/log/hearth").is_dir() {
        true => logged(Path::new(BE_LOG))?,
        false => Runner::new(None, false)?,
    };
    match action {
        BeAction::List => crate::be::list(&runner),
        BeAction::Destroy { name } => crate::be::destroy(&name, &runner),
        BeAction::Sync => crate::be::sync(&runner),
        BeAction::Snapshot { before_apt: _ } => crate::be::snapshot_before_apt(&runner),
        BeAction::BootOk => crate::be::boot_ok(&runner),
        BeAction::Deadline => crate::be::deadline(&runner),
    }
}

fn keep() -> Result<()> {
    let plan = read_plan(Path::new(crate::provision::PLAN))?;
    let runner = logged(Path::new("/var/log/hearth/keep.log"))?;
    match crate::kept::keep::on_server(&plan, &runner)? {
        Some(report) => print!("{report}"),
        None => {
            println!("no data pool: the state lives only in a recovery kit (hearth recovery-kit)")
        }
    }
    Ok(())
}

fn recovery_kit(output: &Path) -> Result<()> {
    let plan = read_plan(Path::new(crate::provision::PLAN))?;
    let passphrase = crate::kept::export::passphrase()?;
    let runner = logged(Path::new("/var/log/hearth/keep.log"))?;
    let root = Path::new("/");
    print!(
        "{}",
        crate::kept::export::export(&plan, root, output, &passphrase, &runner)?
    );
    Ok(())
}

/// `hearth status`: exit code 1 when something needs attention.
fn status(json: bool, alert: bool) -> Result<()> {
    if !crate::care::status(json, alert)? {
        std::process::exit(1);
    }
    Ok(())
}

/// A runner logging to `log`, whose folder is made if need be.
fn logged(log: &Path) -> Result<Runner> {
    if let Some(dir) = log.parent() {
        fs::create_dir_all(dir)?;
    }
    Runner::new(Some(log), false)
}

fn answer_server(command: Command) -> Result<()> {
    let Command::AnswerServer {
        dir,
        listen,
        profiles,
        names,
        netboot,
        netboot_listen,
    } = command
    else {
        unreachable!("called for answer-server only")
    };
    crate::fleet::server::run(&crate::fleet::server::Options {
        profiles: profiles.unwrap_or_else(|| dir.join("profiles")),
        dir,
        listen,
        names,
        netboot: netboot.map(|d| (d, netboot_listen)),
    })
}

fn print_plan(
    profile: &Path,
    answer: Option<&Path>,
    inventory: Option<&Path>,
    json: bool,
) -> Result<()> {
    let plan = make_plan(profile, answer, inventory)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&plan)?);
    } else {
        print!("{}", plan::render(&plan));
    }
    Ok(())
}

/// Runs the sender's command in place of this process, if the gate
/// allows it; never through a shell.
pub fn receive_gate(dataset: &str) -> Result<()> {
    use std::os::unix::process::CommandExt;
    let asked = std::env::var("SSH_ORIGINAL_COMMAND").unwrap_or_default();
    let argv =
        crate::services::zfs_receive::gate::allowed(&asked, dataset).map_err(anyhow::Error::msg)?;
    let err = std::process::Command::new(&argv[0]).args(&argv[1..]).exec();
    Err(anyhow::Error::new(err).context(format!("running {}", argv[0])))
}

/// Started as the receive account's login shell (`receive-shell -c
/// "<forced command>"`): only the gate runs.
pub fn receive_shell(args: &[String]) -> Result<()> {
    let dataset =
        crate::services::zfs_receive::gate::shell_dataset(args).map_err(anyhow::Error::msg)?;
    receive_gate(&dataset)
}
