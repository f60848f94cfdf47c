//! The HTTP surface: `/api/v1` REST, `/healthz`, `/readyz`, `/metrics` and the OpenAPI
//! document. Thin: parse, authorise, call the service, render. Imports `service`,
//! `config` (roles) and the engine's state types for rendering; never sqlx or reqwest.

pub mod auth;
mod body;
mod convert;
pub mod dto;
pub mod error;
mod executions;
mod hooks;
mod jobs;
mod pipelines;
mod system;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use utoipa::OpenApi;

use crate::service::Service;
pub use auth::{Auth, TokenEntry};

/// What every handler gets: small and cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub service: Service,
    pub auth: Arc<Auth>,
    pub prometheus: Option<PrometheusHandle>,
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Baton", description = "Release pipelines modelled on AWS CodePipeline, run on Jenkins and TeamCity"),
    paths(
        pipelines::list, pipelines::put, pipelines::get, pipelines::delete,
        pipelines::start, pipelines::history, pipelines::transition,
        executions::get, executions::stop, executions::retry, executions::approve, executions::log,
        system::healthz, system::readyz, system::metrics,
        hooks::jenkins, hooks::teamcity, hooks::git,
        jobs::list_types, jobs::get_type, jobs::put_type,
        jobs::poll, jobs::acknowledge, jobs::success, jobs::failure, jobs::log,
    ),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        openapi.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new(
            "bearer",
            Vec::<String>::new(),
        )]);
    }
}

pub fn router(state: AppState, max_body_bytes: usize) -> Router {
    let api = Router::new()
        .route("/pipelines", get(pipelines::list))
        .route(
            "/pipelines/{name}",
            get(pipelines::get)
                .put(pipelines::put)
                .delete(pipelines::delete),
        )
        .route(
            "/pipelines/{name}/executions",
            get(pipelines::history).post(pipelines::start),
        )
        .route(
            "/pipelines/{name}/stages/{stage}/transition",
            post(pipelines::transition),
        )
        .route("/executions/{id}", get(executions::get))
        .route("/executions/{id}/stop", post(executions::stop))
        .route(
            "/executions/{id}/stages/{stage}/retry",
            post(executions::retry),
        )
        .route(
            "/executions/{id}/stages/{stage}/actions/{action}/approval",
            post(executions::approve),
        )
        .route(
            "/executions/{id}/stages/{stage}/actions/{action}/log",
            get(executions::log),
        )
        .route("/action-types", get(jobs::list_types))
        .route(
            "/action-types/{category}/{provider}/{version}",
            get(jobs::get_type).put(jobs::put_type),
        )
        .route("/jobs/poll", post(jobs::poll))
        .route("/jobs/{id}/acknowledge", post(jobs::acknowledge))
        .route("/jobs/{id}/success", post(jobs::success))
        .route("/jobs/{id}/failure", post(jobs::failure))
        .route("/jobs/{id}/log", post(jobs::log))
        .route("/openapi.json", get(system::openapi));
    Router::new()
        .nest("/api/v1", api)
        .route("/hooks/jenkins/{server}", post(hooks::jenkins))
        .route("/hooks/teamcity/{server}", post(hooks::teamcity))
        .route("/hooks/git/{pipeline}", post(hooks::git))
        .route("/healthz", get(system::healthz))
        .route("/readyz", get(system::readyz))
        .route("/metrics", get(system::metrics))
        .fallback(system::not_found)
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}
