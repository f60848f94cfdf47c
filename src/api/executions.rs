//! Handlers for `/api/v1/executions/{id}…`: reading an execution (with long-polling for
//! changes), stopping, retrying, approving, and reading an action's CI log.

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::IntoParams;

use super::auth::{Operator, Reader};
use super::body::JsonBody;
use super::convert;
use super::dto::*;
use super::error::{ApiError, ApiResult};
use super::extract::{Path, Query};
use super::AppState;
use crate::engine::state::Execution;

#[derive(Debug, Deserialize, IntoParams)]
pub struct GetQuery {
    /// The `updatedAt` of the version you have: the answer comes as soon as the
    /// execution differs from it, or after about 20 s unchanged.
    pub since: Option<DateTime<Utc>>,
}

#[utoipa::path(get, path = "/api/v1/executions/{id}", tag = "executions", security(("bearer" = ["read"])),
    params(("id" = String, Path, description = "execution id"), GetQuery),
    responses((status = 200, body = ExecutionDetail), (status = 404, body = ErrorBody)))]
pub async fn get(
    _auth: Reader,
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<GetQuery>,
) -> ApiResult<Json<ExecutionDetail>> {
    let execution = match query.since {
        Some(since) => app.service.execution_changed_since(&id, since).await?,
        None => app.service.execution(&id).await?,
    };
    Ok(Json(convert::detail(&execution)))
}

fn accepted(execution: &Execution) -> Json<Accepted> {
    Json(Accepted {
        id: execution.id.clone(),
        status: execution.status.as_str().to_string(),
    })
}

#[utoipa::path(post, path = "/api/v1/executions/{id}/stop", tag = "executions", security(("bearer" = ["operate"])),
    params(("id" = String, Path, description = "execution id")),
    request_body = StopRequest,
    responses((status = 200, body = Accepted), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn stop(
    auth: Operator,
    State(app): State<AppState>,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<StopRequest>,
) -> ApiResult<Json<Accepted>> {
    let caller = auth.caller;
    let execution = app
        .service
        .stop(&id, request.abandon, request.reason, &caller.name)
        .await?;
    tracing::info!(execution = %id, abandon = request.abandon, by = %caller.name, "stop requested");
    Ok(accepted(&execution))
}

#[utoipa::path(post, path = "/api/v1/executions/{id}/stages/{stage}/retry", tag = "executions", security(("bearer" = ["operate"])),
    params(("id" = String, Path, description = "execution id"), ("stage" = String, Path, description = "stage name")),
    request_body = RetryRequest,
    responses((status = 200, body = Accepted), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn retry(
    auth: Operator,
    State(app): State<AppState>,
    Path((id, stage)): Path<(String, String)>,
    JsonBody(request): JsonBody<RetryRequest>,
) -> ApiResult<Json<Accepted>> {
    let caller = auth.caller;
    let all = request.mode == RetryMode::AllActions;
    let execution = app.service.retry(&id, &stage, all, &caller.name).await?;
    tracing::info!(execution = %id, %stage, all_actions = all, by = %caller.name, "stage retried");
    Ok(accepted(&execution))
}

#[utoipa::path(post, path = "/api/v1/executions/{id}/stages/{stage}/actions/{action}/approval", tag = "executions", security(("bearer" = ["operate"])),
    params(("id" = String, Path, description = "execution id"), ("stage" = String, Path, description = "stage name"),
        ("action" = String, Path, description = "action name")),
    request_body = ApprovalRequest,
    responses((status = 200, body = Accepted), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn approve(
    auth: Operator,
    State(app): State<AppState>,
    Path((id, stage, action)): Path<(String, String, String)>,
    JsonBody(request): JsonBody<ApprovalBody>,
) -> ApiResult<Json<Accepted>> {
    let caller = auth.caller;
    let request = request
        .0
        .ok_or_else(|| ApiError::bad_request("the body must say {\"approved\": true|false}"))?;
    let execution = app
        .service
        .approve(
            &id,
            &stage,
            &action,
            request.approved,
            request.comment,
            &caller.name,
        )
        .await?;
    tracing::info!(execution = %id, %stage, %action, approved = request.approved, by = %caller.name, "approval decided");
    Ok(accepted(&execution))
}

/// An approval whose absence is an error rather than a default.
#[derive(Default, Deserialize)]
#[serde(transparent)]
pub struct ApprovalBody(Option<ApprovalRequest>);

#[derive(Debug, Deserialize, IntoParams)]
pub struct LogQuery {
    /// Byte offset to read from (the previous answer's `nextOffset`).
    pub offset: Option<u64>,
}

#[utoipa::path(get, path = "/api/v1/executions/{id}/stages/{stage}/actions/{action}/log", tag = "executions", security(("bearer" = ["read"])),
    params(("id" = String, Path, description = "execution id"), ("stage" = String, Path, description = "stage name"),
        ("action" = String, Path, description = "action name"), LogQuery),
    responses((status = 200, body = LogChunkDto), (status = 404, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub async fn log(
    _auth: Reader,
    State(app): State<AppState>,
    Path((id, stage, action)): Path<(String, String, String)>,
    Query(query): Query<LogQuery>,
) -> ApiResult<Json<LogChunkDto>> {
    let offset = query.offset.unwrap_or(0);
    let chunk = app.service.log(&id, &stage, &action, offset).await?;
    Ok(Json(match chunk {
        Some(chunk) => LogChunkDto {
            text: chunk.text,
            next_offset: chunk.next_offset,
            complete: chunk.complete,
        },
        None => LogChunkDto {
            text: String::new(),
            next_offset: offset,
            complete: true,
        },
    }))
}
