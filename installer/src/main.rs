use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = hearth::cli::Cli::parse();
    match hearth::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
