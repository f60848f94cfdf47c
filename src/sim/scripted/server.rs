//! The scripted CI server's HTTP surface (axum): runs, their state, cancellation and
//! logs, behind an optional bearer token and a queue of injected faults.
//!
//! Errors are `{"error": "message"}` with a fitting status.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use tokio::time::Instant;

use super::state::{Fault, RunState, Script, Shared};

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/runs", post(trigger).get(list))
        .route("/runs/{id}", get(run))
        .route("/runs/{id}/cancel", post(cancel))
        .route("/runs/{id}/log", get(log))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such endpoint") })
        .layer(middleware::from_fn_with_state(shared.clone(), guard))
        .with_state(shared)
}

#[derive(Deserialize)]
struct TriggerBody {
    key: String,
    job: String,
    #[serde(default)]
    parameters: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct RunRef {
    id: String,
    url: String,
}

#[derive(Serialize)]
struct RunBody<'a> {
    id: String,
    key: &'a str,
    job: &'a str,
    state: RunState,
    outputs: &'a BTreeMap<String, String>,
    error: Option<&'a str>,
    percent: Option<u8>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LogBody {
    text: String,
    next_offset: u64,
    complete: bool,
}

#[derive(Deserialize)]
struct KeyQuery {
    key: Option<String>,
}

#[derive(Deserialize)]
struct OffsetQuery {
    #[serde(default)]
    offset: u64,
}

/// Applies the next injected fault, then checks the token, then handles the request.
async fn guard(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let fault = shared.lock().next_fault();
    match fault {
        Some(Fault::Status(status)) => return error(status_code(status), "injected failure"),
        Some(Fault::Throttle { retry_after_secs }) => {
            let mut response = error(StatusCode::TOO_MANY_REQUESTS, "slow down");
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, retry_after_secs.into());
            return response;
        }
        Some(Fault::Delay(delay)) => tokio::time::sleep(delay).await,
        Some(Fault::LoseResponse(status)) => {
            // The request takes effect; only its answer is lost.
            if authorized(&shared, request.headers()) {
                let _handled = next.run(request).await;
            }
            return error(status_code(status), "injected failure after handling");
        }
        None => {}
    }
    if !authorized(&shared, request.headers()) {
        return error(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
    }
    next.run(request).await
}

fn authorized(shared: &Shared, headers: &HeaderMap) -> bool {
    let Some(token) = &shared.token else {
        return true;
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    bool::from(presented.as_bytes().ct_eq(token.as_bytes()))
}

async fn trigger(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let body: TriggerBody = match serde_json::from_slice(&body) {
        Ok(body) => body,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("invalid trigger: {e}")),
    };
    if body.key.trim().is_empty() || body.job.trim().is_empty() {
        return error(StatusCode::BAD_REQUEST, "key and job must not be empty");
    }
    let script = match Script::parse(&body.parameters) {
        Ok(script) => script,
        Err(message) => return error(StatusCode::BAD_REQUEST, &message),
    };
    let id = shared
        .lock()
        .trigger(body.key, body.job, body.parameters, script, Instant::now());
    let url = shared.run_url(&id);
    (StatusCode::CREATED, Json(RunRef { id, url })).into_response()
}

async fn list(State(shared): State<Arc<Shared>>, Query(query): Query<KeyQuery>) -> Response {
    let ids = shared.lock().ids_with_key(query.key.as_deref());
    let refs: Vec<RunRef> = ids
        .into_iter()
        .map(|id| RunRef {
            url: shared.run_url(&id),
            id,
        })
        .collect();
    Json(refs).into_response()
}

async fn run(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let now = Instant::now();
    let mut runs = shared.lock();
    let Some(run) = runs.get(&id, now) else {
        return no_run(&id);
    };
    Json(RunBody {
        id: run.id(),
        key: run.key(),
        job: run.job(),
        state: run.state(),
        outputs: run.outputs(),
        error: run.error(),
        percent: run.percent(now),
    })
    .into_response()
}

async fn cancel(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    match shared.lock().cancel(&id, Instant::now()) {
        Some(()) => StatusCode::ACCEPTED.into_response(),
        None => no_run(&id),
    }
}

async fn log(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(query): Query<OffsetQuery>,
) -> Response {
    let mut runs = shared.lock();
    let Some(run) = runs.get(&id, Instant::now()) else {
        return no_run(&id);
    };
    let text = run.log_text();
    let complete = run.state() != RunState::Running;
    let bytes = text.as_bytes();
    let start = usize::try_from(query.offset)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    Json(LogBody {
        text: String::from_utf8_lossy(&bytes[start..]).into_owned(),
        next_offset: bytes.len() as u64,
        complete,
    })
    .into_response()
}

fn no_run(id: &str) -> Response {
    error(StatusCode::NOT_FOUND, &format!("no run `{id}`"))
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

/// The status for an injected fault; an invalid code becomes 500.
fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}
