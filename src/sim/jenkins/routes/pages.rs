//! The answers that are not model objects: Jenkins' HTML error pages (404, the 403 of
//! an anonymous request with its `X-Required-Permission` headers, the 401 challenge of
//! wrong credentials, "No valid crumb", the 503 while starting), the 405 "retry" page of
//! a GET on a POST-only action, and plain text.

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

const HTML: &str = "text/html;charset=utf-8";
const TEXT: &str = "text/plain;charset=UTF-8";

/// An HTML error page with `message`.
pub(super) fn error(status: StatusCode, message: &str) -> Response {
    let code = status.as_u16();
    let reason = status.canonical_reason().unwrap_or("Error");
    let body = format!(
        "<html><head><title>Error {code} {reason}</title></head><body><h2>HTTP ERROR {code} {}</h2></body></html>\n",
        escape(message)
    );
    with_type(status, HTML, body)
}

/// A bare status (injected faults), as a proxy or the container would answer.
pub(super) fn status(code: u16) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    error(status, status.canonical_reason().unwrap_or("Error"))
}

pub(super) fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "Not Found")
}

/// 400 with a reason.
pub(super) fn bad_request(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, message)
}

/// 500 for the `IllegalArgumentException`s of parameter handling.
pub(super) fn server_error(message: &str) -> Response {
    error(StatusCode::INTERNAL_SERVER_ERROR, message)
}

/// 403 of an authenticated request that lacks a permission.
pub(super) fn forbidden(message: &str) -> Response {
    error(StatusCode::FORBIDDEN, message)
}

/// 401 for wrong credentials, with the Basic challenge.
pub(super) fn unauthorized(user: &str) -> Response {
    let mut response = error(
        StatusCode::UNAUTHORIZED,
        &format!("Invalid password/token for user: {user}"),
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"Jenkins\""),
    );
    response
}

/// 403 for an anonymous request on a secured instance: no challenge.
pub(super) fn anonymous_forbidden() -> Response {
    let mut response = error(StatusCode::FORBIDDEN, "Authentication required");
    let headers = response.headers_mut();
    headers.insert(
        "X-You-Are-Authenticated-As",
        HeaderValue::from_static("anonymous"),
    );
    headers.insert(
        "X-You-Are-In-Group-Disabled",
        HeaderValue::from_static(
            "JENKINS-39402: use -Dhudson.security.AccessDeniedException2.REPORT_GROUP_HEADERS=true or use /whoAmI to diagnose",
        ),
    );
    headers.insert(
        "X-Required-Permission",
        HeaderValue::from_static("hudson.model.Hudson.Read"),
    );
    headers.append(
        "X-Permission-Implied-By",
        HeaderValue::from_static("hudson.security.Permission.GenericRead"),
    );
    headers.append(
        "X-Permission-Implied-By",
        HeaderValue::from_static("hudson.model.Hudson.Administer"),
    );
    response
}

/// `CrumbFilter`'s refusal.
pub(super) fn no_valid_crumb() -> Response {
    let mut response = error(
        StatusCode::FORBIDDEN,
        "No valid crumb was included in the request",
    );
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html;charset=iso-8859-1"),
    );
    response
}

/// `HudsonIsLoading`.
pub(super) fn loading() -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "Jenkins is getting ready to work",
    )
}

/// A GET on a `@RequirePOST` action: 405 with `Allow: POST`.
pub(super) fn post_only() -> Response {
    let mut response = error(
        StatusCode::METHOD_NOT_ALLOWED,
        "This URL requires POST. You can proceed by submitting the form again.",
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    response
}

/// `text/plain;charset=UTF-8`.
pub(super) fn text(status: StatusCode, body: String) -> Response {
    with_type(status, TEXT, body)
}

/// A small HTML page for the human-facing URLs (`/`, a job's or a build's page).
pub(super) fn html(title: &str) -> Response {
    let body = format!(
        "<!DOCTYPE html><html><head><title>{} [Jenkins]</title></head><body></body></html>\n",
        escape(title)
    );
    with_type(StatusCode::OK, HTML, body)
}

pub(super) fn with_type(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Body>,
) -> Response {
    let mut response = (status, body.into()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
