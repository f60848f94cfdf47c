//! The `slack` format: `{"text": ..}` in Slack's mrkdwn, which Slack incoming webhooks,
//! Mattermost and Rocket.Chat all accept.

use serde_json::{json, Value};

use super::changes::Notification;
use crate::config::NotificationEvent;

pub(super) fn message(n: &Notification) -> Value {
    let execution = format!("<{}|{}>", n.execution.url, short(&n.execution.id));
    let pipeline = format!("*{}*", n.pipeline);
    let stage = n.stage.as_ref().map_or("", |s| s.name.as_str());
    let text = match n.event {
        NotificationEvent::ExecutionStarted => {
            format!(":arrow_forward: {pipeline}: execution {execution} started")
        }
        NotificationEvent::ExecutionSucceeded => {
            format!(":white_check_mark: {pipeline}: execution {execution} succeeded")
        }
        NotificationEvent::ExecutionFailed => format!(
            ":x: {pipeline}: execution {execution} failed{}",
            detail(n.execution.status_summary.as_deref())
        ),
        NotificationEvent::ExecutionSuperseded => {
            format!(":fast_forward: {pipeline}: execution {execution} was superseded")
        }
        NotificationEvent::ExecutionStopped => format!(
            ":octagonal_sign: {pipeline}: execution {execution} stopped{}",
            detail(n.execution.status_summary.as_deref())
        ),
        NotificationEvent::StageStarted => {
            format!(":hourglass_flowing_sand: {pipeline}: stage {stage} started ({execution})")
        }
        NotificationEvent::StageSucceeded => {
            format!(":heavy_check_mark: {pipeline}: stage {stage} succeeded ({execution})")
        }
        NotificationEvent::StageFailed => {
            format!(":x: {pipeline}: stage {stage} failed ({execution})")
        }
        NotificationEvent::ApprovalNeeded => {
            let approval = n.approval.as_ref();
            format!(
                ":raised_hand: {pipeline}: approval needed for {stage}/{} ({execution}){}\nReview: {}",
                approval.map_or("", |a| a.action.as_str()),
                detail(approval.and_then(|a| a.summary.as_deref())),
                approval.map_or(n.execution.url.as_str(), |a| a.review_url.as_str()),
            )
        }
        NotificationEvent::ApprovalDecided => {
            let approval = n.approval.as_ref();
            format!(
                ":ballot_box_with_check: {pipeline}: {stage}/{} {}{} ({execution}){}",
                approval.map_or("", |a| a.action.as_str()),
                approval.and_then(|a| a.decision).unwrap_or("decided"),
                approval
                    .and_then(|a| a.decided_by.as_deref())
                    .map_or(String::new(), |by| format!(" by {by}")),
                detail(approval.and_then(|a| a.comment.as_deref())),
            )
        }
    };
    json!({ "text": text })
}

fn detail(text: Option<&str>) -> String {
    text.map_or(String::new(), |t| format!(": {t}"))
}

/// The end of an execution id is enough to tell executions apart in a chat (its start is
/// a timestamp, shared by executions started close together).
fn short(id: &str) -> &str {
    id.get(id.len().saturating_sub(8)..).unwrap_or(id)
}
