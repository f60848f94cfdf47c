//! Request bodies: JSON with errors that say what is wrong, an empty body read as the
//! defaults, text bodies that must be UTF-8, and raw bodies for callbacks. Sizes are capped
//! by the router's limit, and a body must arrive within the router's read timeout, so a
//! client trickling its body cannot hold a connection and a task for ever.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// How long reading one request body may take; the router puts it in each request.
#[derive(Debug, Clone, Copy)]
pub struct ReadTimeout(pub Duration);

/// A JSON body; an empty one stands for `T::default()`.
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Default,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = content_type(&request);
        let bytes = read(request, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonBody(T::default()));
        }
        if let Some(content_type) = content_type {
            if !is_json(&content_type) {
                return Err(unsupported(&content_type, "application/json"));
            }
        }
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::bad_request(format!("malformed JSON body: {e}")))
    }
}

/// A UTF-8 text body (a YAML or JSON pipeline definition): sent as YAML, JSON or plain
/// text, or without a content type.
pub struct TextBody(pub String);

impl<S: Send + Sync> FromRequest<S> for TextBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(content_type) = content_type(&request) {
            let essence = essence(&content_type);
            let yaml = essence.ends_with("/yaml")
                || essence.ends_with("/x-yaml")
                || essence.ends_with("+yaml");
            if !(yaml || is_json(&content_type) || essence == "text/plain") {
                return Err(unsupported(
                    &content_type,
                    "application/yaml, application/json or text/plain",
                ));
            }
        }
        let bytes = read(request, state).await?;
        String::from_utf8(bytes.to_vec())
            .map(TextBody)
            .map_err(|e| ApiError::bad_request(format!("the body is not UTF-8: {e}")))
    }
}

/// The body as bytes, whatever its type (a CI server's callback), read under the same
/// size and time limits.
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        read(request, state).await.map(RawBody)
    }
}

fn content_type(request: &Request) -> Option<String> {
    request
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).to_ascii_lowercase())
}

/// `type/subtype` without parameters.
fn essence(content_type: &str) -> &str {
    content_type.split(';').next().unwrap_or("").trim()
}

fn is_json(content_type: &str) -> bool {
    let essence = essence(content_type);
    essence == "application/json" || essence.ends_with("+json")
}

fn unsupported(content_type: &str, expected: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        format!("expected {expected}, got {content_type}"),
    )
}

async fn read<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ApiError> {
    let timeout = request.extensions().get::<ReadTimeout>().map(|t| t.0);
    let reading = Bytes::from_request(request, state);
    let read = match timeout {
        Some(limit) => tokio::time::timeout(limit, reading).await.map_err(|_| {
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                format!(
                    "the request body did not arrive within {}",
                    humantime::format_duration(limit)
                ),
            )
        })?,
        None => reading.await,
    };
    read.map_err(|rejection| {
        let status = rejection.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(status, "payload_too_large", "the request body is too large")
        } else {
            ApiError::new(status, "bad_request", rejection.body_text())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_its_suffixes_are_json() {
        assert!(is_json("application/json"));
        assert!(is_json("application/json; charset=utf-8"));
        assert!(is_json("application/vnd.baton+json"));
        assert!(!is_json("application/jsonp"));
        assert!(!is_json("text/plain"));
    }
}
