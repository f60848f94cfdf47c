//! The HTTP front: a guard that counts each request, applies injected faults,
//! authenticates and enforces CSRF, then one dispatcher over TeamCity's paths (with the
//! `/httpAuth`, `/guestAuth` and `/app/rest/latest` prefixes folded away). Handlers live
//! in `handlers.rs`; this file owns routing, content negotiation and URL coding.

// Handlers return a ready `Response` as their error: it is what axum sends.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use tokio::time::Instant;

use super::auth::{self, Caller, Via};
use super::errors::{self, ApiError, NODE_ID};
use super::handlers;
use super::node::{self, Entity, Fields};
use super::state::{Fault, RouteKind, Shared};

/// The request path with auth prefixes and API versions folded away.
#[derive(Debug, Clone)]
pub(super) struct Route {
    pub(super) segments: Vec<String>,
}

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/_sim/stats", get(stats))
        .fallback(dispatch)
        .layer(middleware::from_fn_with_state(shared.clone(), guard))
        .with_state(shared)
}

async fn stats(State(shared): State<Arc<Shared>>) -> Response {
    axum::Json(shared.lock().stats.view()).into_response()
}

/// Splits off `/httpAuth` or `/guestAuth` (guest: true) and API version segments.
fn normalize(path: &str) -> (bool, Vec<String>) {
    let mut segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(decode)
        .collect();
    let mut guest = false;
    match segments.first().map(String::as_str) {
        Some("httpAuth") => {
            segments.remove(0);
        }
        Some("guestAuth") => {
            segments.remove(0);
            guest = true;
        }
        _ => {}
    }
    if segments.len() > 2 && segments[0] == "app" && segments[1] == "rest" {
        let version = &segments[2];
        if version == "latest" || version.chars().next().is_some_and(|c| c.is_ascii_digit()) {
            segments.remove(2);
        }
    }
    (guest, segments)
}

fn classify(method: &Method, segments: &[String]) -> RouteKind {
    let s: Vec<&str> = segments.iter().map(String::as_str).collect();
    match (method, s.as_slice()) {
        (&Method::POST, ["app", "rest", "buildQueue"]) => RouteKind::Trigger,
        (&Method::POST | &Method::DELETE, ["app", "rest", "buildQueue", _]) => RouteKind::Cancel,
        (&Method::POST, ["app", "rest", "builds", _]) => RouteKind::Cancel,
        (_, ["app", "rest", "buildQueue", ..]) => RouteKind::Queue,
        (_, ["app", "rest", "builds"]) | (_, ["app", "rest", "builds", "multiple", _]) => {
            RouteKind::BuildsList
        }
        (_, ["app", "rest", "builds", _, "artifacts", ..]) => RouteKind::Artifacts,
        (_, ["app", "rest", "builds", _, "testOccurrences"]) => RouteKind::Tests,
        (_, ["app", "rest", "testOccurrences" | "problemOccurrences", ..]) => RouteKind::Tests,
        (_, ["app", "rest", "builds", ..]) => RouteKind::Build,
        (_, ["downloadBuildLog.html"]) | (_, ["app", "messages"]) => RouteKind::Log,
        _ => RouteKind::Other,
    }
}

/// Counts, faults, authentication and CSRF, in that order.
async fn guard(State(shared): State<Arc<Shared>>, mut request: Request, next: Next) -> Response {
    if request.uri().path().starts_with("/_sim/") {
        return next.run(request).await;
    }
    let (guest, segments) = normalize(request.uri().path());
    let kind = classify(request.method(), &segments);
    let fault = {
        let mut state = shared.lock();
        state.stats.record(kind, Instant::now());
        state.next_fault()
    };
    let mut lose = None;
    match fault {
        Some(Fault::Status(status)) => return injected(status),
        Some(Fault::Throttle { retry_after_secs }) => {
            let mut response = injected(429);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, retry_after_secs.into());
            return response;
        }
        Some(Fault::Delay(delay)) => tokio::time::sleep(delay).await,
        // Unwinding ends the connection's task: the client sees the connection close
        // without an answer. `resume_unwind` skips the panic hook, so nothing is printed.
        Some(Fault::Drop) => std::panic::resume_unwind(Box::new("dropped connection")),
        Some(Fault::LoseResponse(status)) => lose = Some(status),
        None => {}
    }
    // Tomcat in front of TeamCity rejects an encoded slash in the path
    // (`encodedSolidusHandling="reject"`), before TeamCity sees the request.
    if has_encoded_slash(request.uri().path()) {
        return errors::text(
            StatusCode::BAD_REQUEST,
            "HTTP Status 400 – Bad Request\n".to_string(),
        );
    }
    let Some(caller) = auth::authenticate(&shared, request.headers(), guest) else {
        return stamp(errors::unauthorized());
    };
    let modifying = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if modifying {
        if caller.via == Via::Guest {
            return stamp(
                ApiError::forbidden("You do not have enough permissions to perform the operation")
                    .into_response(),
            );
        }
        let query_token = query(request.uri())
            .into_iter()
            .find(|(k, _)| k == "tc-csrf-token")
            .map(|(_, v)| v);
        if !auth::csrf_ok(&shared, &caller, request.headers(), query_token.as_deref()) {
            return stamp(errors::csrf_failed());
        }
    }
    let new_session = caller.new_session.clone();
    request.extensions_mut().insert(caller);
    request.extensions_mut().insert(Route { segments });
    let mut response = next.run(request).await;
    if let Some(cookie) = new_session.as_deref().and_then(auth::set_cookie) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    match lose {
        Some(status) => stamp(injected(status)),
        None => stamp(response),
    }
}

/// A fault's answer: the status with its reason phrase as text.
fn injected(status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let reason = status.canonical_reason().unwrap_or("Error");
    errors::text(status, format!("{} {reason}\n", status.as_u16()))
}

/// Adds the header recent TeamCity servers send with every response.
fn stamp(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert("TeamCity-Node-Id", HeaderValue::from_static(NODE_ID));
    response
}

/// Everything a handler needs to know about the request.
pub(super) struct Call {
    pub(super) shared: Arc<Shared>,
    pub(super) caller: Caller,
    pub(super) method: Method,
    pub(super) headers: HeaderMap,
    pub(super) query: Vec<(String, String)>,
    pub(super) body: Bytes,
    pub(super) now: Instant,
}

impl Call {
    pub(super) fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `fields` parameter, or `$long`.
    pub(super) fn fields(&self) -> Result<Fields, ApiError> {
        Fields::from_param(self.param("fields")).map_err(ApiError::locator)
    }

    /// Renders `entity` as element `root` in the negotiated format.
    pub(super) fn respond(&self, entity: &Entity, root: &str, fields: &Fields) -> Response {
        let format = match negotiate(&self.headers) {
            Ok(format) => format,
            Err(response) => return response,
        };
        let node = match node::select(entity, fields) {
            Ok(node) => node,
            Err(e) => return ApiError::locator(e).into_response(),
        };
        match format {
            Negotiated::Xml => typed(node.to_xml(root), "application/xml"),
            Negotiated::Json => typed(node.to_json(), "application/json"),
        }
    }
}

async fn dispatch(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Extension(route): Extension<Route>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let call = Call {
        shared,
        caller,
        method,
        headers,
        query: query(&uri),
        body,
        now: Instant::now(),
    };
    let segments: Vec<&str> = route.segments.iter().map(String::as_str).collect();
    match handlers::handle(call, &segments) {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Negotiated {
    Xml,
    Json,
}

/// Jersey's choice between XML (the default) and JSON from `Accept`.
fn negotiate(headers: &HeaderMap) -> Result<Negotiated, Response> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Ok(Negotiated::Xml);
    };
    let mut best: Option<(f32, Negotiated)> = None;
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        let candidate = match media.as_str() {
            "application/json" => Negotiated::Json,
            "application/xml" | "text/xml" | "application/*" | "*/*" => Negotiated::Xml,
            _ => continue,
        };
        if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
            best = Some((q, candidate));
        }
    }
    best.map(|(_, n)| n).ok_or_else(errors::not_acceptable)
}

/// A `@Produces("text/plain")` resource's answer: Jersey refuses (406) a request whose
/// `Accept` admits no plain text, e.g. a client that always asks for JSON.
pub(super) fn plain_text(headers: &HeaderMap, text: String) -> Response {
    let accepted = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|accept| {
            accept.split(',').any(|item| {
                let mut parts = item.split(';');
                let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
                let refused = parts.any(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|q| q.parse::<f32>().ok())
                        == Some(0.0)
                });
                !refused && matches!(media.as_str(), "text/plain" | "text/*" | "*/*")
            })
        });
    if accepted {
        typed(text, "text/plain")
    } else {
        errors::not_acceptable()
    }
}

pub(super) fn typed(body: impl Into<Body>, content_type: &'static str) -> Response {
    let mut response = Response::new(body.into());
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn query(uri: &Uri) -> Vec<(String, String)> {
    axum::extract::Query::<Vec<(String, String)>>::try_from_uri(uri)
        .map(|q| q.0)
        .unwrap_or_default()
}

fn has_encoded_slash(path: &str) -> bool {
    path.to_ascii_lowercase().contains("%2f")
}

/// Percent-decodes a path segment.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(byte) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes a query parameter value.
pub(super) fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'~'
            | b':'
            | b','
            | b'('
            | b')' => out.push(byte as char),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_prefixes_and_versions() {
        assert_eq!(
            normalize("/httpAuth/app/rest/latest/builds/id%3A5"),
            (
                false,
                vec!["app".into(), "rest".into(), "builds".into(), "id:5".into()]
            )
        );
        assert_eq!(
            normalize("/guestAuth/app/rest/2018.1/server"),
            (true, vec!["app".into(), "rest".into(), "server".into()])
        );
    }

    #[test]
    fn negotiates_like_jersey() {
        let mut headers = HeaderMap::new();
        assert_eq!(negotiate(&headers).ok(), Some(Negotiated::Xml));
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        assert_eq!(negotiate(&headers).ok(), Some(Negotiated::Json));
        headers.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
        assert_eq!(negotiate(&headers).ok(), Some(Negotiated::Xml));
        headers.insert(header::ACCEPT, HeaderValue::from_static("text/html"));
        assert!(negotiate(&headers).is_err());
    }

    #[test]
    fn plain_text_needs_an_accept_that_admits_it() {
        let status = |accept: Option<&'static str>| {
            let mut headers = HeaderMap::new();
            if let Some(accept) = accept {
                headers.insert(header::ACCEPT, HeaderValue::from_static(accept));
            }
            plain_text(&headers, "SUCCESS".into()).status()
        };
        assert_eq!(status(None), StatusCode::OK);
        assert_eq!(status(Some("text/plain")), StatusCode::OK);
        assert_eq!(status(Some("application/json, */*;q=0.1")), StatusCode::OK);
        assert_eq!(status(Some("application/json")), StatusCode::NOT_ACCEPTABLE);
        assert_eq!(status(Some("text/plain;q=0")), StatusCode::NOT_ACCEPTABLE);
    }

    #[test]
    fn codes_urls() {
        assert_eq!(decode("id%3A5%2C"), "id:5,");
        assert_eq!(encode("a b+c"), "a%20b%2Bc");
        assert!(has_encoded_slash(
            "/app/rest/builds/id:1/artifacts/children%2Freports"
        ));
        assert!(!has_encoded_slash(
            "/app/rest/builds/id%3A1/artifacts/children/reports"
        ));
    }
}
