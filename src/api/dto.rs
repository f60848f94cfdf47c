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

/// Body of `PUT /api/v1/action-types/{category}/{provider}/{version}`: CodePipeline's
/// action type fields; the id comes from the path (and must match if repeated here).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ActionTypeBody {
    pub category: Option<String>,
    pub owner: Option<String>,
    pub provider: Option<String>,
    pub version: Option<String>,
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub configuration_properties: Vec<crate::model::action_type::ConfigurationProperty>,
    #[schema(value_type = Option<Object>)]
    pub input_artifact_details: Option<crate::model::action_type::ArtifactDetails>,
    #[schema(value_type = Option<Object>)]
    pub output_artifact_details: Option<crate::model::action_type::ArtifactDetails>,
    #[schema(value_type = Option<Object>)]
    pub settings: Option<crate::model::action_type::ActionTypeSettings>,
}

/// A custom action type and where it is defined (`config` or `api`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActionTypeDto {
    #[schema(value_type = Object)]
    pub action_type: crate::model::ActionType,
    pub defined_in: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActionTypeIdDto {
    pub category: String,
    /// `Custom`, if given.
    pub owner: Option<String>,
    pub provider: String,
    pub version: String,
}

/// `POST /api/v1/jobs/poll`, as `PollForJobs`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PollJobsRequest {
    pub action_type_id: Option<ActionTypeIdDto>,
    /// Default 1, at most 100.
    pub max_batch_size: Option<u32>,
    /// How long to wait for a job when none is queued (default 20, capped by the daemon).
    pub wait_seconds: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobDto {
    pub id: String,
    /// Send it back with the acknowledgement.
    pub nonce: Option<String>,
    /// CodePipeline's `JobData`: `actionTypeId`, `actionConfiguration.configuration`,
    /// `pipelineContext`, `inputArtifacts` (with their producers' variables),
    /// `continuationToken`.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PollJobsResponse {
    pub jobs: Vec<JobDto>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct AcknowledgeRequest {
    pub nonce: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JobStatusDto {
    pub status: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionDetailsDto {
    pub summary: Option<String>,
    pub external_execution_id: Option<String>,
    pub percent_complete: Option<u8>,
}

/// `POST /api/v1/jobs/{id}/success`, as `PutJobSuccessResult`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobSuccessRequest {
    #[serde(default)]
    pub output_variables: BTreeMap<String, String>,
    pub execution_details: Option<ExecutionDetailsDto>,
    #[schema(value_type = Option<Object>)]
    pub current_revision: Option<serde_json::Value>,
    /// Asks for another call of the worker with this token instead of finishing.
    pub continuation_token: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum FailureType {
    #[default]
    JobFailed,
    ConfigurationError,
    PermissionError,
    RevisionOutOfSync,
    RevisionUnavailable,
    SystemUnavailable,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FailureDetailsDto {
    #[serde(rename = "type")]
    pub kind: FailureType,
    pub message: String,
    pub external_execution_id: Option<String>,
}

/// `POST /api/v1/jobs/{id}/failure`, as `PutJobFailureResult`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobFailureRequest {
    pub failure_details: Option<FailureDetailsDto>,
}

/// `POST /api/v1/jobs/{id}/log`: the next piece of the worker's output.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobLogRequest {
    /// Where `text` starts in the job's log, in bytes (the previous answer's `nextOffset`).
    pub offset: u64,
    pub text: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobLogResponse {
    pub next_offset: u64,
}
