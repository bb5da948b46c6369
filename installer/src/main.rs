use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = hearth_installer::cli::Cli::parse();
    match hearth_installer::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
