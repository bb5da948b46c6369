use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    // The zfs-receive account's login shell is a link to this binary.
    let shell = args
        .first()
        .is_some_and(|a| a.trim_start_matches('-').rsplit('/').next() == Some("receive-shell"));
    let result = if shell {
        hearth_installer::cli::receive_shell(&args[1..])
    } else {
        hearth_installer::cli::run(hearth_installer::cli::Cli::parse())
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
