//! `baton run start|list|get|watch|logs|stop|retry`: executions of a pipeline. `start`
//! prints the id alone so scripts can capture it; `--wait` and `watch` follow the execution
//! and exit 0 only if it succeeded.

use std::time::Duration;

use chrono::{Local, Utc};

use super::args::{Output, RunCommand};
use super::client::ApiClient;
use super::watch::{self, Display};
use super::{print_json, render, stdout_line, stdout_text, CliError};
use crate::api::dto::{RetryMode, RetryRequest, StartRequest, StopRequest};

pub async fn run(client: ApiClient, command: RunCommand) -> Result<u8, CliError> {
    let tz = *Local::now().offset();
    match command {
        RunCommand::Start {
            pipeline,
            vars,
            revision,
            wait,
            output,
        } => {
            let request = StartRequest {
                variables: vars.into_iter().collect(),
                revision,
            };
            let started = client.start_execution(&pipeline, &request).await?;
            match (wait, output) {
                (false, Output::Json) => print_json(&started),
                (false, Output::Text) => {
                    stdout_line(&started.id);
                    Ok(0)
                }
                (true, Output::Text) => {
                    stdout_line(&started.id);
                    follow(&client, &started.id, output).await
                }
                (true, Output::Json) => follow(&client, &started.id, output).await,
            }
        }
        RunCommand::List { pipeline, output } => {
            let list = client.list_executions(&pipeline).await?;
            match output {
                Output::Json => print_json(&list),
                Output::Text => {
                    stdout_text(&render::executions(&list, Utc::now(), &tz));
                    Ok(0)
                }
            }
        }
        RunCommand::Get { id, output } => {
            let detail = client.get_execution(&id).await?;
            match output {
                Output::Json => print_json(&detail),
                Output::Text => {
                    stdout_text(&render::execution(&detail, Utc::now(), &tz));
                    Ok(0)
                }
            }
        }
        RunCommand::Watch { id, output } => follow(&client, &id, output).await,
        RunCommand::Logs {
            id,
            stage,
            action,
            follow,
        } => logs(&client, &id, &stage, &action, follow).await,
        RunCommand::Stop {
            id,
            abandon,
            reason,
            output,
        } => {
            let request = StopRequest { abandon, reason };
            let accepted = client.stop_execution(&id, &request).await?;
            match output {
                Output::Json => print_json(&accepted),
                Output::Text => {
                    stdout_line(&format!("execution {}: {}", accepted.id, accepted.status));
                    Ok(0)
                }
            }
        }
        RunCommand::Retry {
            id,
            stage,
            all_actions,
            output,
        } => {
            let mode = if all_actions {
                RetryMode::AllActions
            } else {
                RetryMode::FailedActions
            };
            let accepted = client
                .retry_stage(&id, &stage, &RetryRequest { mode })
                .await?;
            match output {
                Output::Json => print_json(&accepted),
                Output::Text => {
                    stdout_line(&format!(
                        "execution {}: retrying {stage} ({})",
                        accepted.id, accepted.status
                    ));
                    Ok(0)
                }
            }
        }
    }
}

/// Follows to the end; prints the outcome line (or the final detail as JSON).
async fn follow(client: &ApiClient, id: &str, output: Output) -> Result<u8, CliError> {
    let display = match output {
        Output::Json => Display::Quiet,
        Output::Text => Display::for_stdout(),
    };
    let detail = watch::follow(client, id, display).await?;
    match output {
        Output::Json => {
            print_json(&detail)?;
        }
        Output::Text => {
            stdout_line(&render::outcome(&detail, Utc::now()));
        }
    }
    Ok(watch::exit_code(&detail))
}

/// Prints the action's log from the start; with `follow`, keeps printing what the build
/// writes until the log is complete.
async fn logs(
    client: &ApiClient,
    id: &str,
    stage: &str,
    action: &str,
    follow: bool,
) -> Result<u8, CliError> {
    let mut offset = 0;
    loop {
        let chunk = client.action_log(id, stage, action, offset).await?;
        if !chunk.text.is_empty() && !stdout_text(&chunk.text) {
            return Ok(0);
        }
        let advanced = chunk.next_offset > offset;
        offset = chunk.next_offset;
        if chunk.complete {
            return Ok(0);
        }
        if !advanced {
            if !follow {
                return Ok(0);
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}
