//! The `baton` binary: parse the command line, run the command, exit with its code.
//! Everything else lives in the library (`baton::cli` for the commands).

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    baton::cli::run(baton::cli::Cli::parse()).await
}
