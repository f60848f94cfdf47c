//! The JSON bodies of the HTTP API: what handlers accept and render, what the CLI sends
//! and reads. Boundary types only; they convert from engine state and never go back.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `{"error": {"code": "...", "message": "..."}}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `not_found`, `invalid_pipeline`, `conflict`, ...
    pub code: String,
    pub message: String,
    /// For `invalid_pipeline`: every problem as `file:line:col: message`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PipelineSummary {
    pub name: String,
    pub version: u32,
    pub execution_mode: String,
    pub stages: Vec<String>,
    pub updated_at: DateTime<Utc>,
    pub latest_execution: Option<ExecutionSummary>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PipelineDetail {
    pub name: String,
    pub version: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The definition in its canonical CodePipeline form.
    #[schema(value_type = Object)]
    pub pipeline: serde_json::Value,
    /// Stages whose inbound transition was ever changed.
    pub transitions: Vec<TransitionState>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TransitionState {
    pub stage: String,
    pub enabled: bool,
    pub reason: Option<String>,
    pub changed_by: Option<String>,
    pub changed_at: DateTime<Utc>,
}

/// Answer to `PUT /api/v1/pipelines/{name}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplyResult {
    pub name: String,
    pub version: u32,
    /// False when the definition was identical to the stored one (version unchanged).
    pub changed: bool,
    /// Things ignored or assumed while reading the definition, as `file:line:col: note`.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StartRequest {
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    #[serde(default)]
    pub revision: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StartResponse {
    pub id: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StopRequest {
    #[serde(default)]
    pub abandon: bool,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RetryMode {
    #[default]
    FailedActions,
    AllActions,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetryRequest {
    #[serde(default)]
    pub mode: RetryMode,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApprovalRequest {
    pub approved: bool,
    #[serde(default)]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TransitionRequest {
    pub enabled: bool,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TriggerDto {
    /// `StartPipelineExecution`, `Webhook`, `PollForSourceChanges`, ...
    pub trigger_type: String,
    pub trigger_detail: Option<String>,
    pub triggered_by: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionSummary {
    pub id: String,
    pub pipeline: String,
    pub pipeline_version: u32,
    /// InProgress, Stopping, Stopped, Succeeded, Superseded or Failed.
    pub status: String,
    pub status_summary: Option<String>,
    pub trigger: TriggerDto,
    pub revision: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionDetail {
    #[serde(flatten)]
    pub summary: ExecutionSummary,
    pub updated_at: DateTime<Utc>,
    pub variables: BTreeMap<String, String>,
    /// Stage the execution is in, or waits in front of (`waiting` true).
    pub current_stage: Option<String>,
    pub waiting: bool,
    pub stop_reason: Option<String>,
    pub stages: Vec<StageDto>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StageDto {
    pub name: String,
    /// Absent until the stage is entered; then InProgress, Succeeded, Failed, Stopped or Cancelled.
    pub status: Option<String>,
    pub attempt: u32,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub actions: Vec<ActionDto>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActionDto {
    pub name: String,
    pub run_order: u16,
    /// Absent until the action starts; then InProgress, Succeeded, Failed or Abandoned.
    pub status: Option<String>,
    pub run_id: Option<String>,
    pub attempt: u32,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub deadline: Option<DateTime<Utc>>,
    pub external_execution_id: Option<String>,
    pub external_execution_url: Option<String>,
    pub build_number: Option<String>,
    pub summary: Option<String>,
    pub error: Option<String>,
    pub percent_complete: Option<u8>,
    pub output_variables: BTreeMap<String, String>,
    #[schema(value_type = Object)]
    pub resolved_configuration: serde_json::Value,
    pub approvals: Vec<ApprovalDto>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalDto {
    pub by: String,
    pub approved: bool,
    pub comment: Option<String>,
    pub at: DateTime<Utc>,
}

/// Answer to state-changing execution calls (stop, retry, approval).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Accepted {
    pub id: String,
    pub status: String,
}

/// Answer to `DELETE /api/v1/pipelines/{name}` and transition changes.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Done {
    pub ok: bool,
}

/// A piece of an action's CI log: `GET …/actions/{action}/log?offset=N`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogChunkDto {
    pub text: String,
    /// Pass as `offset` to read what follows.
    pub next_offset: u64,
    /// True when the build finished and the log will not grow.
    pub complete: bool,
}
