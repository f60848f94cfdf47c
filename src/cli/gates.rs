//! The gates between stages: `baton approve` decides a manual approval action, and
//! `baton transition disable|enable` closes or opens the way into a stage.

use super::args::{ApproveArgs, Output, TransitionCommand};
use super::client::ApiClient;
use super::{print_json, stdout_line, CliError};
use crate::api::dto::{ApprovalRequest, TransitionRequest};

pub async fn approve(client: ApiClient, args: ApproveArgs) -> Result<u8, CliError> {
    let request = ApprovalRequest {
        approved: !args.reject,
        comment: args.comment,
    };
    let accepted = client
        .decide_approval(&args.id, &args.stage, &args.action, &request)
        .await?;
    match args.output {
        Output::Json => print_json(&accepted),
        Output::Text => {
            let verdict = if request.approved {
                "approved"
            } else {
                "rejected"
            };
            stdout_line(&format!(
                "{}/{} of execution {}: {verdict} (execution {})",
                args.stage, args.action, accepted.id, accepted.status
            ));
            Ok(0)
        }
    }
}

pub async fn transition(client: ApiClient, command: TransitionCommand) -> Result<u8, CliError> {
    let (pipeline, stage, request, output) = match command {
        TransitionCommand::Disable {
            pipeline,
            stage,
            reason,
            output,
        } => {
            let request = TransitionRequest {
                enabled: false,
                reason: Some(reason),
            };
            (pipeline, stage, request, output)
        }
        TransitionCommand::Enable {
            pipeline,
            stage,
            output,
        } => {
            let request = TransitionRequest {
                enabled: true,
                reason: None,
            };
            (pipeline, stage, request, output)
        }
    };
    let done = client.set_transition(&pipeline, &stage, &request).await?;
    match output {
        Output::Json => print_json(&done),
        Output::Text => {
            let state = match (&request.enabled, &request.reason) {
                (true, _) => "enabled".to_string(),
                (false, Some(reason)) => format!("disabled ({reason})"),
                (false, None) => "disabled".to_string(),
            };
            stdout_line(&format!(
                "transition into {stage} of pipeline {pipeline}: {state}"
            ));
            Ok(0)
        }
    }
}
