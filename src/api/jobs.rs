//! Handlers for `/api/v1/action-types…` (custom action types) and `/api/v1/jobs…` (the
//! job-worker protocol). Job calls take any token, then check that its holder may work
//! on the job's action type: an admin always, a worker token for the types it names.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::Json;

use super::auth::{Admin, Caller, Reader, Worker};
use super::body::JsonBody;
use super::dto::*;
use super::error::{ApiError, ApiResult};
use super::AppState;
use crate::model::action_type::ArtifactDetails;
use crate::model::ActionTypeKey;
use crate::service::{ActionTypeSpec, DefinedIn, JobSuccess};

fn type_dto((action_type, defined_in): (crate::model::ActionType, DefinedIn)) -> ActionTypeDto {
    ActionTypeDto {
        action_type,
        defined_in: match defined_in {
            DefinedIn::Config => "config",
            DefinedIn::Api => "api",
        }
        .into(),
    }
}

fn key(category: &str, provider: &str, version: &str) -> Result<ActionTypeKey, ApiError> {
    ActionTypeKey::new(category, provider, version).map_err(ApiError::bad_request)
}

fn allowed(caller: &Caller, key: &ActionTypeKey) -> Result<(), ApiError> {
    if caller.may_work_on(key) {
        Ok(())
    } else {
        Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "forbidden",
            format!("this token may not work on jobs of action type {key}"),
        ))
    }
}

#[utoipa::path(get, path = "/api/v1/action-types", tag = "action types", security(("bearer" = ["read"])),
    responses((status = 200, body = Vec<ActionTypeDto>), (status = 401, body = ErrorBody)))]
pub async fn list_types(_auth: Reader, State(app): State<AppState>) -> Json<Vec<ActionTypeDto>> {
    Json(
        app.service
            .action_types()
            .into_iter()
            .map(type_dto)
            .collect(),
    )
}

#[utoipa::path(get, path = "/api/v1/action-types/{category}/{provider}/{version}", tag = "action types", security(("bearer" = ["read"])),
    params(("category" = String, Path), ("provider" = String, Path), ("version" = String, Path)),
    responses((status = 200, body = ActionTypeDto), (status = 404, body = ErrorBody)))]
pub async fn get_type(
    _auth: Reader,
    State(app): State<AppState>,
    Path((category, provider, version)): Path<(String, String, String)>,
) -> ApiResult<Json<ActionTypeDto>> {
    let key = key(&category, &provider, &version)?;
    Ok(Json(type_dto(app.service.action_type(&key)?)))
}

#[utoipa::path(put, path = "/api/v1/action-types/{category}/{provider}/{version}", tag = "action types", security(("bearer" = ["admin"])),
    params(("category" = String, Path), ("provider" = String, Path), ("version" = String, Path)),
    request_body = ActionTypeBody,
    responses((status = 200, body = ActionTypeDto), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn put_type(
    auth: Admin,
    State(app): State<AppState>,
    Path((category, provider, version)): Path<(String, String, String)>,
    JsonBody(body): JsonBody<ActionTypeBody>,
) -> ApiResult<Json<ActionTypeDto>> {
    let key = key(&category, &provider, &version)?;
    for (field, given, expected) in [
        ("category", &body.category, key.category.to_string()),
        ("provider", &body.provider, key.provider.clone()),
        ("version", &body.version, key.version.clone()),
        ("owner", &body.owner, "Custom".to_string()),
    ] {
        if given.as_ref().is_some_and(|g| *g != expected) {
            return Err(ApiError::bad_request(format!(
                "{field} in the body differs from the path ({expected})"
            )));
        }
    }
    let spec = ActionTypeSpec {
        configuration_properties: body.configuration_properties,
        input_artifact_details: body
            .input_artifact_details
            .unwrap_or(ArtifactDetails::default()),
        output_artifact_details: body
            .output_artifact_details
            .unwrap_or(ArtifactDetails::default()),
        settings: body.settings.unwrap_or_default(),
    };
    let stored = app.service.put_action_type(key.clone(), spec).await?;
    tracing::info!(action_type = %key, by = %auth.caller.name, "action type registered");
    Ok(Json(type_dto((stored, DefinedIn::Api))))
}

#[utoipa::path(post, path = "/api/v1/jobs/poll", tag = "jobs", security(("bearer" = ["worker"])), request_body = PollJobsRequest,
    responses((status = 200, body = PollJobsResponse), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn poll(
    auth: Worker,
    State(app): State<AppState>,
    JsonBody(body): JsonBody<PollJobsRequest>,
) -> ApiResult<Json<PollJobsResponse>> {
    let id = body
        .action_type_id
        .ok_or_else(|| ApiError::bad_request("actionTypeId is required"))?;
    if id.owner.as_deref().is_some_and(|o| o != "Custom") {
        return Err(ApiError::bad_request(
            "job workers poll for Custom action types",
        ));
    }
    let key = key(&id.category, &id.provider, &id.version)?;
    allowed(&auth.caller, &key)?;
    let wait = Duration::from_secs(body.wait_seconds.unwrap_or(20));
    let jobs = app
        .service
        .poll_jobs(&key, body.max_batch_size.unwrap_or(1), wait)
        .await?;
    Ok(Json(PollJobsResponse {
        jobs: jobs
            .into_iter()
            .map(|job| JobDto {
                id: job.id,
                nonce: job.nonce,
                data: job.data,
            })
            .collect(),
    }))
}

/// The job, once the caller is known to be allowed to act on it.
async fn job_for(app: &AppState, caller: &Caller, id: &str) -> Result<(), ApiError> {
    let job = app.service.job(id).await?;
    allowed(caller, &job.action_type)
}

#[utoipa::path(post, path = "/api/v1/jobs/{id}/acknowledge", tag = "jobs", security(("bearer" = ["worker"])),
    params(("id" = String, Path)), request_body = AcknowledgeRequest,
    responses((status = 200, body = JobStatusDto), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn acknowledge(
    auth: Worker,
    State(app): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<AcknowledgeRequest>,
) -> ApiResult<Json<JobStatusDto>> {
    if body.nonce.is_empty() {
        return Err(ApiError::bad_request("nonce is required"));
    }
    job_for(&app, &auth.caller, &id).await?;
    let job = app
        .service
        .acknowledge_job(&id, &body.nonce, &auth.caller.name)
        .await?;
    Ok(Json(JobStatusDto {
        status: job.state.as_str().into(),
    }))
}

#[utoipa::path(post, path = "/api/v1/jobs/{id}/success", tag = "jobs", security(("bearer" = ["worker"])),
    params(("id" = String, Path)), request_body = JobSuccessRequest,
    responses((status = 200, body = JobStatusDto), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn success(
    auth: Worker,
    State(app): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<JobSuccessRequest>,
) -> ApiResult<Json<JobStatusDto>> {
    job_for(&app, &auth.caller, &id).await?;
    if body
        .execution_details
        .as_ref()
        .and_then(|d| d.percent_complete)
        .is_some_and(|p| p > 100)
    {
        return Err(ApiError::bad_request("percentComplete is at most 100"));
    }
    let success = JobSuccess {
        output_variables: body.output_variables,
        execution_details: body
            .execution_details
            .map(|d| serde_json::to_value(d).unwrap_or_default()),
        current_revision: body.current_revision,
        continuation_token: body.continuation_token.filter(|t| !t.is_empty()),
    };
    let job = app.service.job_succeeded(&id, success).await?;
    Ok(Json(JobStatusDto {
        status: job.state.as_str().into(),
    }))
}

#[utoipa::path(post, path = "/api/v1/jobs/{id}/failure", tag = "jobs", security(("bearer" = ["worker"])),
    params(("id" = String, Path)), request_body = JobFailureRequest,
    responses((status = 200, body = JobStatusDto), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn failure(
    auth: Worker,
    State(app): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<JobFailureRequest>,
) -> ApiResult<Json<JobStatusDto>> {
    let details = body
        .failure_details
        .ok_or_else(|| ApiError::bad_request("failureDetails is required"))?;
    if details.message.is_empty() || details.message.len() > 5000 {
        return Err(ApiError::bad_request(
            "failureDetails.message must have 1 to 5000 characters",
        ));
    }
    job_for(&app, &auth.caller, &id).await?;
    let failure = serde_json::to_value(&details).unwrap_or_default();
    let job = app.service.job_failed(&id, failure).await?;
    Ok(Json(JobStatusDto {
        status: job.state.as_str().into(),
    }))
}

#[utoipa::path(post, path = "/api/v1/jobs/{id}/log", tag = "jobs", security(("bearer" = ["worker"])),
    params(("id" = String, Path)), request_body = JobLogRequest,
    responses((status = 200, body = JobLogResponse), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn log(
    auth: Worker,
    State(app): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<JobLogRequest>,
) -> ApiResult<Json<JobLogResponse>> {
    job_for(&app, &auth.caller, &id).await?;
    let next_offset = app
        .service
        .append_job_log(&id, body.offset, &body.text)
        .await?;
    Ok(Json(JobLogResponse { next_offset }))
}
