//! What a step changed, as notifications: the status an execution, its stages and its
//! approvals had before the step, compared with where they stand after it. Pure: the
//! actor calls it between its commit and its effects, and tests call it directly.

use serde::Serialize;

use crate::config::NotificationEvent;
use crate::engine::state::{ActionStatus, Execution, ExecutionStatus, StageStatus, Time};
use crate::model::{Category, Pipeline};

/// The statuses of one execution, taken before a step so the step's changes show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    status: ExecutionStatus,
    stages: Vec<StageSnapshot>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct StageSnapshot {
    status: Option<StageStatus>,
    attempt: u32,
    actions: Vec<(Option<ActionStatus>, Option<String>)>,
}

impl Snapshot {
    pub fn of(execution: &Execution) -> Snapshot {
        Snapshot {
            status: execution.status,
            stages: execution
                .stages
                .iter()
                .map(|stage| StageSnapshot {
                    status: stage.status,
                    attempt: stage.attempt,
                    actions: stage
                        .actions
                        .iter()
                        .map(|run| (run.status, run.run_id.clone()))
                        .collect(),
                })
                .collect(),
        }
    }
}

/// One notification, as receivers get it (the `json` format's body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    /// Unique per notification and the same on every attempt: receivers dedupe with it.
    pub id: String,
    #[serde(serialize_with = "event_name")]
    pub event: NotificationEvent,
    pub at: Time,
    pub pipeline: String,
    pub execution: ExecutionInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<StageInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionInfo {
    pub id: String,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_summary: Option<String>,
    pub trigger_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StageInfo {
    pub name: String,
    pub status: String,
    pub attempt: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalInfo {
    pub stage: String,
    pub action: String,
    /// The approval's `CustomData`: what the reviewer is asked to look at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_entity_link: Option<String>,
    pub review_url: String,
    /// How to answer, for approval.needed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approve: Option<Endpoint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reject: Option<Endpoint>,
    /// The answer, for approval.decided: `Approved`, `Rejected` or `TimedOut`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// An API call that answers an approval (with an operator's token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    pub method: &'static str,
    pub url: String,
    pub body: serde_json::Value,
}

fn event_name<S: serde::Serializer>(event: &NotificationEvent, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(event.as_str())
}

/// The notifications one step caused for `after`, in the order they happened: the start,
/// then stage by stage (started, approvals, finished), then the end. `before` is None for
/// an execution the step created. Ids are left empty for the notifier to fill.
pub fn changes(
    definition: &Pipeline,
    before: Option<&Snapshot>,
    after: &Execution,
    public_url: &str,
    now: Time,
) -> Vec<Notification> {
    let execution_url = format!("{public_url}/api/v1/executions/{}", after.id);
    let make = |event, stage: Option<StageInfo>, approval: Option<ApprovalInfo>| Notification {
        id: String::new(),
        event,
        at: now,
        pipeline: after.pipeline.clone(),
        execution: ExecutionInfo {
            id: after.id.clone(),
            status: after.status.as_str(),
            status_summary: after.status_summary.clone(),
            trigger_type: after.trigger.kind.clone(),
            revision: after.revision.clone(),
            url: execution_url.clone(),
        },
        stage,
        approval,
    };
    let mut out = Vec::new();
    if before.is_none() {
        out.push(make(NotificationEvent::ExecutionStarted, None, None));
    }
    for (s, stage) in after.stages.iter().enumerate() {
        let old = before.and_then(|b| b.stages.get(s));
        let (old_status, old_attempt) = old.map_or((None, 0), |o| (o.status, o.attempt));
        let info = || StageInfo {
            name: stage.name.clone(),
            status: stage
                .status
                .map_or_else(|| "None".into(), |st| format!("{st:?}")),
            attempt: stage.attempt,
        };
        let changed = old_status != stage.status || old_attempt != stage.attempt;
        if changed && stage.status == Some(StageStatus::InProgress) {
            out.push(make(NotificationEvent::StageStarted, Some(info()), None));
        }
        let Some(declared) = definition.stages.get(s) else {
            continue;
        };
        for (a, run) in stage.actions.iter().enumerate() {
            let Some(action) = declared.actions.get(a) else {
                continue;
            };
            if action.action_type_id.category != Category::Approval {
                continue;
            }
            let (old_run_status, old_run_id) = old
                .and_then(|o| o.actions.get(a))
                .cloned()
                .unwrap_or((None, None));
            if old_run_status == run.status && old_run_id == run.run_id {
                continue;
            }
            let path = format!(
                "{execution_url}/stages/{}/actions/{}/approval",
                stage.name, action.name
            );
            let mut approval = ApprovalInfo {
                stage: stage.name.clone(),
                action: action.name.clone(),
                summary: action.config_text("CustomData").map(str::to_string),
                external_entity_link: action.config_text("ExternalEntityLink").map(str::to_string),
                review_url: execution_url.clone(),
                approve: None,
                reject: None,
                decision: None,
                decided_by: None,
                comment: None,
            };
            match run.status {
                Some(ActionStatus::InProgress) => {
                    let endpoint = |approved: bool| Endpoint {
                        method: "POST",
                        url: path.clone(),
                        body: serde_json::json!({ "approved": approved }),
                    };
                    approval.approve = Some(endpoint(true));
                    approval.reject = Some(endpoint(false));
                    out.push(make(
                        NotificationEvent::ApprovalNeeded,
                        Some(info()),
                        Some(approval),
                    ));
                }
                Some(status @ (ActionStatus::Succeeded | ActionStatus::Failed)) => {
                    let vote = run.approvals.last();
                    approval.decision = Some(match (status, vote) {
                        (ActionStatus::Succeeded, _) => "Approved",
                        (_, Some(_)) => "Rejected",
                        (_, None) => "TimedOut",
                    });
                    approval.decided_by = vote.map(|v| v.by.clone());
                    approval.comment = vote.and_then(|v| v.comment.clone());
                    out.push(make(
                        NotificationEvent::ApprovalDecided,
                        Some(info()),
                        Some(approval),
                    ));
                }
                _ => {}
            }
        }
        if changed {
            let event = match stage.status {
                Some(StageStatus::Succeeded) => Some(NotificationEvent::StageSucceeded),
                Some(StageStatus::Failed) => Some(NotificationEvent::StageFailed),
                _ => None,
            };
            if let Some(event) = event {
                out.push(make(event, Some(info()), None));
            }
        }
    }
    if before.is_none_or(|b| b.status != after.status) {
        let event = match after.status {
            ExecutionStatus::Succeeded => Some(NotificationEvent::ExecutionSucceeded),
            ExecutionStatus::Failed => Some(NotificationEvent::ExecutionFailed),
            ExecutionStatus::Superseded => Some(NotificationEvent::ExecutionSuperseded),
            ExecutionStatus::Stopped => Some(NotificationEvent::ExecutionStopped),
            ExecutionStatus::InProgress | ExecutionStatus::Stopping => None,
        };
        if let Some(event) = event {
            out.push(make(event, None, None));
        }
    }
    out
}
