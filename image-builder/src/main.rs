use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};
use image_builder::build::{self, default_workspace};
use image_builder::cache::Cache;

/// Builds Hearth's bootable hybrid ISO (BIOS and UEFI, CD and USB) from a profile.
#[derive(Debug, Parser)]
#[command(name = "image-builder", version)]
struct Cli {
    /// Where layers and downloaded packages are kept between builds
    /// (default: $HEARTH_CACHE, else /var/cache/hearth).
    #[arg(long, global = true)]
    cache: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build out/hearth-<profile>-<version>.iso, SHA256SUMS and a manifest.
    Build {
        #[arg(long, default_value = "profiles/homelab.toml")]
        profile: PathBuf,
        /// Answer file to embed for unattended installs.
        #[arg(long)]
        answer: Option<PathBuf>,
        #[arg(long, default_value = "out")]
        out: PathBuf,
        /// Debian mirror.
        #[arg(long, default_value = "http://deb.debian.org/debian")]
        mirror: String,
        /// Debian's security archive: the image is built with its updates,
        /// and the installed server's apt sources name it.
        #[arg(long, default_value = hearth_services::updates::DEFAULT_SECURITY)]
        security_mirror: String,
        /// Use this installer binary instead of building it.
        #[arg(long)]
        installer: Option<PathBuf>,
        /// Also write the netboot folder: the medium's files, SHA256SUMS
        /// and an iPXE script.
        #[arg(long)]
        netboot: bool,
        /// The URL the folder will be served at, the iPXE script's default
        /// (a chaining script may set ${hearth-url} instead); default:
        /// http://${next-server}/hearth/<profile>/.
        #[arg(long)]
        netboot_url: Option<String>,
    },
    /// Add kernel arguments (e.g. hearth.answer=URL hearth.answer-fingerprint=...
    /// or ip=...) to both boot menus of an existing ISO, without rebuilding.
    KernelArgs {
        iso: PathBuf,
        #[arg(short, long)]
        output: PathBuf,
        #[arg(required = true)]
        args: Vec<String>,
    },
    /// Embed or replace the answer file in an existing ISO, without rebuilding.
    InjectAnswer {
        iso: PathBuf,
        answer: PathBuf,
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Write an ISO to a USB stick, then read it back and compare.
    Flash {
        iso: PathBuf,
        device: PathBuf,
        /// Allow a device that is not removable.
        #[arg(long)]
        force: bool,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Inspect or prune the layer cache.
    Cache {
        #[command(subcommand)]
        action: CacheAction,
    },
}

#[derive(Debug, Subcommand)]
enum CacheAction {
    /// List cached layers with their keys and sizes.
    Ls,
    /// Remove all but the newest layer of each kind (everything with --all).
    Prune {
        #[arg(long)]
        all: bool,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let cache_root = cli.cache.unwrap_or_else(Cache::default_root);
    match cli.command {
        Command::Build {
            profile,
            answer,
            out,
            mirror,
            security_mirror,
            installer,
            netboot,
            netboot_url,
        } => {
            let url = netboot_url.unwrap_or_else(|| {
                let name = profile.file_stem().unwrap_or_default().to_string_lossy();
                image_builder::netboot::default_url(&name)
            });
            let options = build::Options {
                netboot: netboot.then_some(url),
                profile,
                answer,
                out,
                cache: cache_root,
                mirror,
                security_mirror,
                installer,
                workspace: default_workspace(),
            };
            let built = build::build(&options)?;
            println!("{}", built.iso.display());
            println!("{}", built.manifest.display());
            if let Some(dir) = &built.netboot {
                println!("{}", dir.display());
            }
            Ok(())
        }
        Command::InjectAnswer {
            iso,
            answer,
            output,
        } => image_builder::inject::inject(&iso, &answer, &output),
        Command::KernelArgs { iso, output, args } => {
            image_builder::inject::kernel_args(&iso, &args, &output)
        }
        Command::Flash {
            iso,
            device,
            force,
            yes,
        } => image_builder::flash::flash(&iso, &device, force, yes),
        Command::Cache { action } => {
            let cache = Cache::new(cache_root);
            match action {
                CacheAction::Ls => {
                    for layer in cache.list() {
                        println!(
                            "{:<8} {}  {:>10.1} MiB  {}",
                            layer.name,
                            layer.key,
                            layer.bytes as f64 / 1048576.0,
                            layer.path.display()
                        );
                    }
                }
                CacheAction::Prune { all } => {
                    for layer in cache.prune(all)? {
                        println!("removed {} {}", layer.name, layer.key);
                    }
                }
            }
            Ok(())
        }
    }
}
