//! The HTTP surface: `/api/v1` REST, `/healthz`, `/readyz`, `/metrics` and the OpenAPI
//! document. Thin: parse, authorise, call the service, render. Imports `service`,
//! `config` (roles) and the engine's state types for rendering; never sqlx or reqwest.

pub mod auth;
mod body;
mod convert;
pub mod dto;
pub mod error;
mod executions;
mod extract;
mod hooks;
mod jobs;
mod pipelines;
pub mod server;
mod system;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::{Extension, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::config::Limits;
use crate::service::Service;
pub use auth::{Auth, TokenEntry};

/// What every handler gets: small and cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub service: Service,
    pub auth: Arc<Auth>,
    pub prometheus: Option<PrometheusHandle>,
}

/// The document's frame: title and the bearer scheme. Its paths come from the router
/// itself (`routes`), so a route cannot exist without being documented.
#[derive(OpenApi)]
#[openapi(
    info(title = "Baton", description = "Release pipelines modelled on AWS CodePipeline, run on Jenkins and TeamCity"),
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

/// Every route, each registered through its handler's `#[utoipa::path]`: the path and
/// method that axum serves are the ones the OpenAPI document shows, and the document
/// names the role each one needs (checked end to end by the daemon tests).
fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(pipelines::list))
        .routes(routes!(pipelines::get, pipelines::put, pipelines::delete))
        .routes(routes!(pipelines::history, pipelines::start))
        .routes(routes!(pipelines::transition))
        .routes(routes!(executions::get))
        .routes(routes!(executions::stop))
        .routes(routes!(executions::retry))
        .routes(routes!(executions::approve))
        .routes(routes!(executions::log))
        .routes(routes!(system::openapi))
        .routes(routes!(hooks::jenkins))
        .routes(routes!(hooks::teamcity))
        .routes(routes!(hooks::git))
        .routes(routes!(jobs::list_types))
        .routes(routes!(jobs::get_type, jobs::put_type))
        .routes(routes!(jobs::poll))
        .routes(routes!(jobs::acknowledge))
        .routes(routes!(jobs::success))
        .routes(routes!(jobs::failure))
        .routes(routes!(jobs::log))
        .routes(routes!(system::healthz))
        .routes(routes!(system::readyz))
        .routes(routes!(system::metrics))
}

/// The OpenAPI document of every route the daemon serves.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().into_openapi()
}

pub fn router(state: AppState, limits: &Limits) -> Router {
    let (router, _) = routes().split_for_parts();
    router
        .fallback(system::not_found)
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(Extension(body::ReadTimeout(limits.request_body_timeout)))
        .layer(
            tower_http::trace::TraceLayer::new_for_http().make_span_with(
                |request: &axum::http::Request<axum::body::Body>| {
                    tracing::debug_span!(
                        "request",
                        method = %request.method(),
                        uri = %loggable_uri(request.uri()),
                        version = ?request.version(),
                    )
                },
            ),
        )
        .with_state(state)
}

/// The request's URI for the log, with the values of secret-bearing query parameters
/// (a callback's `token`) replaced by `***`.
fn loggable_uri(uri: &axum::http::Uri) -> String {
    let Some(query) = uri.query() else {
        return uri.path().to_string();
    };
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if is_secret_key(key) => format!("{key}=***"),
            _ => pair.to_string(),
        })
        .collect();
    format!("{}?{}", uri.path(), query.join("&"))
}

fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["token", "secret", "key", "password"]
        .iter()
        .any(|word| key.contains(word))
}

#[cfg(test)]
mod tests {
    use super::loggable_uri;

    #[test]
    fn secrets_in_query_strings_are_not_logged() {
        let check = |uri: &str, expected: &str| {
            assert_eq!(loggable_uri(&uri.parse().unwrap()), expected, "{uri}");
        };
        check(
            "/hooks/jenkins/jk?token=s3cret",
            "/hooks/jenkins/jk?token=***",
        );
        check(
            "/hooks/teamcity/tc?a=1&Token=s3cret&x_secret=y&apiKey=z&b",
            "/hooks/teamcity/tc?a=1&Token=***&x_secret=***&apiKey=***&b",
        );
        check(
            "/api/v1/executions/e?since=2026",
            "/api/v1/executions/e?since=2026",
        );
        check("/api/v1/pipelines", "/api/v1/pipelines");
    }
}
