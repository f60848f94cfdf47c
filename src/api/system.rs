//! Liveness, readiness, metrics and the OpenAPI document; none needs a token.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;

use super::error::{ApiError, ApiResult};
use super::AppState;

#[utoipa::path(get, path = "/healthz", tag = "system", security(()),
    responses((status = 200, description = "the daemon is up", body = String)))]
pub async fn healthz() -> &'static str {
    "ok"
}

#[utoipa::path(get, path = "/readyz", tag = "system", security(()),
    responses((status = 200, description = "the store answers", body = String), (status = 503, body = super::dto::ErrorBody)))]
pub async fn readyz(State(app): State<AppState>) -> ApiResult<&'static str> {
    app.service
        .ready()
        .await
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not_ready", e.to_string()))?;
    Ok("ready")
}

#[utoipa::path(get, path = "/metrics", tag = "system", security(()),
    responses((status = 200, description = "Prometheus text exposition", body = String)))]
pub async fn metrics(State(app): State<AppState>) -> impl IntoResponse {
    if let Ok(counts) = app.service.runtime().store().execution_counts().await {
        for (status, count) in counts {
            metrics::gauge!("baton_executions", "status" => status).set(count as f64);
        }
    }
    let body = app
        .prometheus
        .as_ref()
        .map(|handle| handle.render())
        .unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}

#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "system", security(()),
    responses((status = 200, description = "this document")))]
pub async fn openapi() -> impl IntoResponse {
    Json(super::openapi())
}

pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
}
