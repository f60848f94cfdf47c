//! Handlers for `/api/v1/pipelines…`: definitions, their executions, stage transitions.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;

use super::auth::{Admin, Operator, Reader};
use super::body::{JsonBody, TextBody};
use super::convert;
use super::dto::*;
use super::error::ApiResult;
use super::extract::{Path, Query};
use super::AppState;
use crate::engine::state::Trigger;

#[utoipa::path(get, path = "/api/v1/pipelines", tag = "pipelines", security(("bearer" = ["read"])),
    responses((status = 200, body = Vec<PipelineSummary>), (status = 401, body = ErrorBody)))]
pub async fn list(
    _auth: Reader,
    State(app): State<AppState>,
) -> ApiResult<Json<Vec<PipelineSummary>>> {
    let pipelines = app.service.pipelines().await?;
    Ok(Json(
        pipelines
            .iter()
            .map(|(stored, latest)| convert::pipeline_summary(stored, latest.as_ref()))
            .collect(),
    ))
}

#[utoipa::path(put, path = "/api/v1/pipelines/{name}", tag = "pipelines", security(("bearer" = ["admin"])),
    params(("name" = String, Path, description = "pipeline name")),
    request_body(content = String, description = "the definition, YAML or JSON", content_type = "application/yaml"),
    responses((status = 200, body = ApplyResult), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn put(
    auth: Admin,
    State(app): State<AppState>,
    Path(name): Path<String>,
    TextBody(text): TextBody,
) -> ApiResult<Json<ApplyResult>> {
    let caller = auth.caller;
    let applied = app.service.apply_pipeline(&name, &text).await?;
    tracing::info!(pipeline = %name, version = applied.outcome.version, by = %caller.name, "pipeline applied");
    Ok(Json(ApplyResult {
        name: applied.name,
        version: applied.outcome.version,
        changed: applied.outcome.changed,
        notes: applied.notes,
    }))
}

#[utoipa::path(get, path = "/api/v1/pipelines/{name}", tag = "pipelines", security(("bearer" = ["read"])),
    params(("name" = String, Path, description = "pipeline name")),
    responses((status = 200, body = PipelineDetail), (status = 404, body = ErrorBody)))]
pub async fn get(
    _auth: Reader,
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<PipelineDetail>> {
    let view = app.service.pipeline(&name).await?;
    Ok(Json(convert::pipeline_detail(&view.stored, &view.gates)))
}

#[utoipa::path(delete, path = "/api/v1/pipelines/{name}", tag = "pipelines", security(("bearer" = ["admin"])),
    params(("name" = String, Path, description = "pipeline name")),
    responses((status = 200, body = Done), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    auth: Admin,
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<Done>> {
    let caller = auth.caller;
    app.service.delete_pipeline(&name).await?;
    tracing::info!(pipeline = %name, by = %caller.name, "pipeline deleted");
    Ok(Json(Done { ok: true }))
}

#[utoipa::path(post, path = "/api/v1/pipelines/{name}/executions", tag = "executions", security(("bearer" = ["operate"])),
    params(("name" = String, Path, description = "pipeline name")),
    request_body = StartRequest,
    responses((status = 201, body = StartResponse), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn start(
    auth: Operator,
    State(app): State<AppState>,
    Path(name): Path<String>,
    JsonBody(request): JsonBody<StartRequest>,
) -> ApiResult<(StatusCode, Json<StartResponse>)> {
    let caller = auth.caller;
    let trigger = Trigger {
        kind: "StartPipelineExecution".into(),
        detail: None,
        by: Some(caller.name.clone()),
    };
    let id = app
        .service
        .start(&name, request.variables, request.revision, trigger)
        .await?;
    tracing::info!(pipeline = %name, execution = %id, by = %caller.name, "execution started");
    Ok((StatusCode::CREATED, Json(StartResponse { id })))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct HistoryQuery {
    /// At most this many executions (default 50, at most 1000).
    pub limit: Option<u32>,
}

#[utoipa::path(get, path = "/api/v1/pipelines/{name}/executions", tag = "executions", security(("bearer" = ["read"])),
    params(("name" = String, Path, description = "pipeline name"), HistoryQuery),
    responses((status = 200, body = Vec<ExecutionSummary>), (status = 404, body = ErrorBody)))]
pub async fn history(
    _auth: Reader,
    State(app): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<HistoryQuery>,
) -> ApiResult<Json<Vec<ExecutionSummary>>> {
    let limit = query.limit.unwrap_or(50).clamp(1, 1000);
    let executions = app.service.executions(&name, limit).await?;
    Ok(Json(executions.iter().map(convert::summary).collect()))
}

#[utoipa::path(post, path = "/api/v1/pipelines/{name}/stages/{stage}/transition", tag = "pipelines", security(("bearer" = ["operate"])),
    params(("name" = String, Path, description = "pipeline name"), ("stage" = String, Path, description = "stage name")),
    request_body = TransitionRequest,
    responses((status = 200, body = Done), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn transition(
    auth: Operator,
    State(app): State<AppState>,
    Path((name, stage)): Path<(String, String)>,
    JsonBody(request): JsonBody<TransitionBody>,
) -> ApiResult<Json<Done>> {
    let caller = auth.caller;
    let TransitionBody(request) = request;
    let request = request.ok_or_else(|| {
        super::error::ApiError::bad_request("the body must say {\"enabled\": true|false}")
    })?;
    app.service
        .set_transition(&name, &stage, request.enabled, request.reason, &caller.name)
        .await?;
    tracing::info!(pipeline = %name, %stage, enabled = request.enabled, by = %caller.name, "transition changed");
    Ok(Json(Done { ok: true }))
}

/// A transition request whose absence is an error rather than a default.
#[derive(Default, Deserialize)]
#[serde(transparent)]
pub struct TransitionBody(Option<TransitionRequest>);
