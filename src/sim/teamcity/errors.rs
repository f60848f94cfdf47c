//! TeamCity's error answers: the REST plugin's `text/plain` bodies built by
//! `ExceptionMapperBase` (status line, `Details: <exception>: <message>`, the mapper's
//! hint), the servlet container's 401 with its two challenges, and the CSRF filter's 403.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// The node name recent servers put on every response.
pub(super) const NODE_ID: &str = "MAIN_SERVER";

/// A REST error: status, the Java exception TeamCity would name, and its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ApiError {
    pub(super) status: StatusCode,
    pub(super) exception: &'static str,
    pub(super) message: String,
}

const REST_ERRORS: &str = "jetbrains.buildServer.server.rest.errors";

impl ApiError {
    pub(super) fn not_found(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            exception: "NotFoundException",
            message: message.into(),
        }
    }

    pub(super) fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            exception: "BadRequestException",
            message: message.into(),
        }
    }

    pub(super) fn locator(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            exception: "LocatorProcessException",
            message: message.into(),
        }
    }

    pub(super) fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::FORBIDDEN,
            exception: "AuthorizationFailedException",
            message: message.into(),
        }
    }

    pub(super) fn internal(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            exception: "OperationException",
            message: message.into(),
        }
    }

    /// The mapper's closing hint for this kind of error.
    fn hint(&self) -> &'static str {
        match self.exception {
            "NotFoundException" => "Could not find the entity requested. Check the reference is correct and the user has permissions to access the entity.",
            "LocatorProcessException" => "Invalid request. Check locator is specified correctly.",
            "BadRequestException" => "Invalid request. Please check the request URL and data are correct.",
            "AuthorizationFailedException" => "Access denied. Check the user has enough permissions to perform the operation.",
            "InvalidStateException" => "Cannot process this request at this time. Repeat later.",
            _ => "Error occurred while processing this request.",
        }
    }

    /// The exact body TeamCity writes.
    pub(super) fn body(&self) -> String {
        format!(
            "{}\nDetails: {REST_ERRORS}.{}: {}\n{}\n",
            status_line(self.status),
            self.exception,
            self.message,
            self.hint()
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        text(self.status, self.body())
    }
}

/// `Responding with error, status code: 404 (Not Found).`, or the 5xx variant.
fn status_line(status: StatusCode) -> String {
    let reason = status.canonical_reason().unwrap_or("Error");
    if status.is_server_error() {
        format!(
            "Error has occurred during request processing, status code: {} ({reason}).",
            status.as_u16()
        )
    } else {
        format!(
            "Responding with error, status code: {} ({reason}).",
            status.as_u16()
        )
    }
}

/// 415 for a POST whose `Content-Type` is neither XML nor JSON.
pub(super) fn unsupported_media_type() -> Response {
    text(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        format!(
            "{}\nMake sure you have supplied correct 'Content-Type' header.\n",
            status_line(StatusCode::UNSUPPORTED_MEDIA_TYPE)
        ),
    )
}

/// 406 when the `Accept` header allows neither XML nor JSON.
pub(super) fn not_acceptable() -> Response {
    text(
        StatusCode::NOT_ACCEPTABLE,
        format!(
            "{}\nMake sure you have supplied correct 'Accept' header.\n",
            status_line(StatusCode::NOT_ACCEPTABLE)
        ),
    )
}

/// The servlet container's answer to missing or wrong credentials.
pub(super) fn unauthorized() -> Response {
    let mut response = (
        StatusCode::UNAUTHORIZED,
        "Authentication required\nTo login manually go to \"/login.html\" page",
    )
        .into_response();
    let headers = response.headers_mut();
    headers.append(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"TeamCity\""),
    );
    headers.append(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"TeamCity\""),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain;charset=UTF-8"),
    );
    response
}

/// The CSRF filter's refusal of a modifying request without a valid token.
pub(super) fn csrf_failed() -> Response {
    let body = "Responding with 403 status code due to failed CSRF check: authenticated POST request is made, but neither tc-csrf-token parameter nor X-TC-CSRF-Token header are provided.";
    let mut response = text(StatusCode::FORBIDDEN, body.to_string());
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain;charset=UTF-8"),
    );
    response
}

/// A plain-text answer.
pub(super) fn text(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_match_the_reference() {
        assert_eq!(
            ApiError::not_found("No build found by id '999999'.").body(),
            "Responding with error, status code: 404 (Not Found).\n\
             Details: jetbrains.buildServer.server.rest.errors.NotFoundException: No build found by id '999999'.\n\
             Could not find the entity requested. Check the reference is correct and the user has permissions to access the entity.\n"
        );
        assert!(ApiError::internal("x")
            .body()
            .starts_with("Error has occurred during request processing, status code: 500 (Internal Server Error)."));
    }
}
