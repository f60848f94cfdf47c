//! The `baton` command line: `serve` and `validate` run locally; every other command is a
//! client of the daemon's HTTP API through [`ApiClient`].
//!
//! - `args`: the clap declaration, nothing else.
//! - `client`: the typed API client (public, for tests and benchmarks), `connect`: which
//!   daemon and which token.
//! - `render`, `watch`, `live`: output; rendering is pure and unit-tested.
//! - `local`, `pipeline`, `run`, `gates`: one function per command.
//!
//! Exit codes: 0 success, 1 the operation failed (API error, invalid definition, an
//! execution that did not succeed), 2 usage, connection or authorisation problems.

pub mod args;
pub mod client;
pub mod connect;
pub mod live;
pub mod render;
pub mod watch;

mod gates;
mod local;
mod pipeline;
mod run;
mod worker;

#[cfg(test)]
mod fixtures;

use std::io::Write;
use std::process::ExitCode;

use serde::Serialize;

pub use args::Cli;
pub use client::{ApiClient, ClientError};

use args::{ClientArgs, Command};
use connect::TokenSource;

/// Why a command did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command line or its input cannot be used as given.
    #[error("{0}")]
    Usage(String),
    /// The operation was tried and failed.
    #[error("{0}")]
    Failed(String),
    #[error(transparent)]
    Client(#[from] ClientError),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Failed(_) => 1,
            CliError::Client(ClientError::Api { .. } | ClientError::Decode { .. }) => 1,
            CliError::Client(_) => 2,
        }
    }
}

/// Runs a parsed command line; the exit code says how it went.
pub async fn run(cli: Cli) -> ExitCode {
    let (result, token) = match cli.command {
        Command::Serve(args) => (local::serve(args).await, None),
        Command::Validate(args) => (local::validate(&args), None),
        Command::Demo(args) => (local::demo(args).await, None),
        Command::Pipeline { client, command } => {
            with_client(&client, |c| pipeline::run(c, command)).await
        }
        Command::Run { client, command } => with_client(&client, |c| run::run(c, command)).await,
        Command::Approve(args) => {
            let client = args.client.clone();
            with_client(&client, |c| gates::approve(c, args)).await
        }
        Command::Transition { client, command } => {
            with_client(&client, |c| gates::transition(c, command)).await
        }
        Command::Worker(args) => {
            let client = args.client.clone();
            with_client(&client, |c| worker::run(c, args)).await
        }
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            report(&error, token.as_ref());
            ExitCode::from(error.exit_code())
        }
    }
}

async fn with_client<F, Fut>(
    args: &ClientArgs,
    command: F,
) -> (Result<u8, CliError>, Option<TokenSource>)
where
    F: FnOnce(ApiClient) -> Fut,
    Fut: std::future::Future<Output = Result<u8, CliError>>,
{
    match connect::connect(args) {
        Ok((client, source)) => (command(client).await, Some(source)),
        Err(error) => (Err(CliError::Usage(error.to_string())), None),
    }
}

/// Prints an error on stderr: API details first (one problem per line), then the message.
fn report(error: &CliError, token: Option<&TokenSource>) {
    let mut err = std::io::stderr().lock();
    let message = match (error, token) {
        (CliError::Client(ClientError::Unauthorized { .. }), Some(source)) => {
            connect::unauthorized_help(source)
        }
        (CliError::Client(ClientError::Api { details, .. }), _) => {
            for detail in details {
                let _ = writeln!(err, "{detail}");
            }
            error.to_string()
        }
        _ => error.to_string(),
    };
    let _ = writeln!(err, "error: {message}");
}

/// Writes a line to stdout; false once stdout is gone (a closed pipe), so loops can stop.
pub(crate) fn stdout_line(line: &str) -> bool {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").and_then(|()| out.flush()).is_ok()
}

/// Writes text to stdout as it is; false once stdout is gone.
pub(crate) fn stdout_text(text: &str) -> bool {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .is_ok()
}

/// Writes a line to stderr (notes, hints).
pub(crate) fn stderr_line(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// Prints an API answer as pretty JSON: the `-o json` output of every command.
pub(crate) fn print_json<T: Serialize>(value: &T) -> Result<u8, CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::Failed(format!("cannot print the answer as JSON: {e}")))?;
    stdout_line(&text);
    Ok(0)
}
