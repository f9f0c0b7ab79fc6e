//! The `thruai` binary: parse the command line and run it.

use clap::Parser;

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    match thruai::cli::run(thruai::cli::Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("thruai: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
