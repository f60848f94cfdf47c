//! Inbound callbacks from CI servers: `POST /hooks/jenkins/{server}` and
//! `POST /hooks/teamcity/{server}`. The server's adapter checks the shared secret and
//! reads which build the callback is about; the callback then only wakes that build's
//! follower, which reads the truth from the CI server. A forged or replayed callback
//! therefore changes nothing.
//!
//! Push webhooks from GitHub, GitLab and Gitea/Forgejo: `POST /hooks/git/{pipeline}`.
//! The service checks the signature over the raw body and decides whether the push starts
//! an execution; a ping gets 200, anything verified but not started 202.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::body::RawBody;
use super::error::{ApiError, ApiResult};
use super::extract::{Path, Query};
use super::AppState;
use crate::adapters::{Callback, CallbackError};
use crate::model::ServerKind;
use crate::service::HookOutcome;

/// Answer to a callback.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CallbackAccepted {
    /// Followers woken to read the build from the server (0 when no running action
    /// knows the build the callback names).
    pub woken: usize,
}

#[utoipa::path(post, path = "/hooks/jenkins/{server}", tag = "hooks", security(()),
    params(("server" = String, Path, description = "server name in the daemon config")),
    request_body(content = String, description = "Notification plugin JSON or a plain callback"),
    responses((status = 202, body = CallbackAccepted), (status = 400, body = super::dto::ErrorBody),
        (status = 401, body = super::dto::ErrorBody), (status = 404, body = super::dto::ErrorBody)))]
pub async fn jenkins(
    State(app): State<AppState>,
    Path(server): Path<String>,
    Query(query): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<(StatusCode, Json<CallbackAccepted>)> {
    receive(&app, ServerKind::Jenkins, &server, query, &headers, body)
}

#[utoipa::path(post, path = "/hooks/teamcity/{server}", tag = "hooks", security(()),
    params(("server" = String, Path, description = "server name in the daemon config")),
    request_body(content = String, description = "TeamCity webhook payload"),
    responses((status = 202, body = CallbackAccepted), (status = 400, body = super::dto::ErrorBody),
        (status = 401, body = super::dto::ErrorBody), (status = 404, body = super::dto::ErrorBody)))]
pub async fn teamcity(
    State(app): State<AppState>,
    Path(server): Path<String>,
    Query(query): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<(StatusCode, Json<CallbackAccepted>)> {
    receive(&app, ServerKind::TeamCity, &server, query, &headers, body)
}

fn receive(
    app: &AppState,
    kind: ServerKind,
    server: &str,
    query: BTreeMap<String, String>,
    headers: &HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<CallbackAccepted>)> {
    let runtime = app.service.runtime();
    let catalog = runtime.catalog();
    let known = catalog.server(server).filter(|s| s.kind == kind);
    if known.is_none() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no {kind} server named {server}"),
        ));
    }
    let callback = Callback {
        query,
        headers: lowercase_headers(headers).into_iter().collect(),
        body: body.to_vec(),
    };
    match runtime.callback(server, &callback) {
        Ok(woken) => {
            tracing::debug!(%server, woken, "callback received");
            Ok((StatusCode::ACCEPTED, Json(CallbackAccepted { woken })))
        }
        Err(CallbackError::Unauthorized) => {
            tracing::warn!(%server, "callback with a missing or wrong secret refused");
            Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                CallbackError::Unauthorized.to_string(),
            ))
        }
        Err(error @ CallbackError::Malformed(_)) => Err(ApiError::bad_request(error.to_string())),
        Err(error @ CallbackError::Unsupported) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            error.to_string(),
        )),
    }
}

/// Answer to a push webhook.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GitHookAnswer {
    /// The execution the push started, if it started one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution: Option<String>,
    /// The revision the execution runs, or why nothing started.
    pub message: String,
}

#[utoipa::path(post, path = "/hooks/git/{pipeline}", tag = "hooks", security(()),
    params(("pipeline" = String, Path, description = "the pipeline the push may start")),
    request_body(content = String, description = "GitHub, GitLab, Gitea or Forgejo push event (JSON)"),
    responses((status = 200, body = GitHookAnswer, description = "ping"),
        (status = 201, body = GitHookAnswer, description = "an execution started"),
        (status = 202, body = GitHookAnswer, description = "verified; nothing started"),
        (status = 400, body = super::dto::ErrorBody), (status = 401, body = super::dto::ErrorBody),
        (status = 404, body = super::dto::ErrorBody), (status = 415, body = super::dto::ErrorBody)))]
pub async fn git(
    State(app): State<AppState>,
    Path(pipeline): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<GitHookAnswer>)> {
    if let Some(content_type) = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.to_ascii_lowercase().starts_with("application/json"))
    {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("push webhooks must be sent as application/json, got {content_type}"),
        ));
    }
    let headers = lowercase_headers(&headers);
    let outcome = app.service.git_hook(&pipeline, &headers, &body).await;
    if let Err(crate::service::ServiceError::Unauthorized(why)) = &outcome {
        tracing::warn!(%pipeline, %why, "push webhook refused");
    }
    let answer =
        |status, execution, message| Ok((status, Json(GitHookAnswer { execution, message })));
    match outcome? {
        HookOutcome::Pong => answer(StatusCode::OK, None, "pong".into()),
        HookOutcome::Started {
            execution,
            revision,
        } => answer(
            StatusCode::CREATED,
            Some(execution),
            format!("started for revision {revision}"),
        ),
        HookOutcome::Ignored(reason) => answer(StatusCode::ACCEPTED, None, reason),
    }
}

fn lowercase_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter_map(|(name, value)| {
            Some((
                name.as_str().to_ascii_lowercase(),
                value.to_str().ok()?.to_string(),
            ))
        })
        .collect()
}
