//! Everything around builds that is read-only: resulting properties, artifacts, test and
//! problem occurrences, the build log (`downloadBuildLog.html`, `/app/messages`), build
//! configurations, `/app/rest/server`, and the CSRF token endpoint.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::auth;
use super::build::Build;
use super::errors::ApiError;
use super::files;
use super::locator::Locator;
use super::logs;
use super::node::Entity;
use super::occurrences;
use super::query;
use super::render::{build_type_entity, canceled_info_entity, properties_entity, server_entity};
use super::server::{plain_text, typed, Call};
use super::state::State;

/// Sub-resources of a build that are not single fields.
pub(super) fn is_resource(name: &str) -> bool {
    matches!(
        name,
        "resulting-properties" | "artifacts" | "testOccurrences" | "canceledInfo"
    )
}

/// `GET /app/rest/builds/{locator}/{rest…}` for build `id`.
pub(super) fn build_resource(call: &Call, id: u64, rest: &[&str]) -> Result<Response, ApiError> {
    match rest {
        ["resulting-properties"] => {
            let fields = call.fields()?;
            let entity = with_build(call, id, |_, b| {
                Ok(properties_entity(
                    &b.resulting_properties(),
                    Some(format!("/app/rest/builds/id:{id}/resulting-properties")),
                ))
            })?;
            Ok(call.respond(&entity, "properties", &fields))
        }
        ["resulting-properties", name] => {
            let value = with_build(call, id, |_, b| {
                b.resulting_properties().get(*name).cloned().ok_or_else(|| {
                    ApiError::not_found(format!("No parameter with name '{name}' is found."))
                })
            })?;
            Ok(plain_text(&call.headers, value))
        }
        ["artifacts", kind, path @ ..] if matches!(*kind, "content" | "files") => {
            let path = path.join("/");
            let bytes = with_build(call, id, |_, b| files::content(b, &path))?;
            Ok(typed(bytes, "application/octet-stream"))
        }
        ["artifacts", "metadata", path @ ..] => {
            let fields = call.fields()?;
            let path = path.join("/");
            let entity = with_build(call, id, |s, b| files::metadata(s, b, &path))?;
            Ok(call.respond(&entity, "file", &fields))
        }
        ["artifacts", rest @ ..] => {
            let fields = call.fields()?;
            let path = match rest {
                ["children", path @ ..] => path.join("/"),
                path => path.join("/"),
            };
            let entity = with_build(call, id, |s, b| files::children(s, b, &path))?;
            Ok(call.respond(&entity, "files", &fields))
        }
        // A `Comment`; JAX-RS answers 204 when the resource method returns null.
        ["canceledInfo"] => {
            let fields = call.fields()?;
            match with_build(call, id, |s, b| Ok(canceled_info_entity(s, b)))? {
                Some(entity) => Ok(call.respond(&entity, "comment", &fields)),
                None => Ok(StatusCode::NO_CONTENT.into_response()),
            }
        }
        ["testOccurrences"] => {
            let fields = call.fields()?;
            let text = format!("build:(id:{id})");
            let locator = query::parse(&text)?;
            let entity = with_build(call, id, |_, b| occurrences::tests(b, &locator, &text))?;
            Ok(call.respond(&entity, "testOccurrences", &fields))
        }
        _ => Err(ApiError::not_found(format!(
            "No resource matches GET /app/rest/builds/id:{id}/{}",
            rest.join("/")
        ))),
    }
}

/// Read-only endpoints outside `/app/rest/builds` and `/app/rest/buildQueue`.
pub(super) fn handle(call: &Call, path: &[&str]) -> Result<Response, ApiError> {
    match path {
        ["app", "rest", "server"] => {
            let entity = call.shared.with(call.now, |s| server_entity(s, call.now));
            Ok(call.respond(&entity, "server", &call.fields()?))
        }
        ["app", "rest", "buildTypes", locator] => {
            let entity = call.shared.with(call.now, |s| build_type(s, locator))?;
            Ok(call.respond(&entity, "buildType", &call.fields()?))
        }
        ["app", "rest", "testOccurrences"] => {
            let fields = call.fields()?;
            let text = call.param("locator").unwrap_or_default().to_string();
            let locator = query::parse(&text)?;
            let id = occurrence_build(call, &locator)?;
            let entity = with_build(call, id, |_, b| occurrences::tests(b, &locator, &text))?;
            Ok(call.respond(&entity, "testOccurrences", &fields))
        }
        ["app", "rest", "problemOccurrences"] => {
            let fields = call.fields()?;
            let locator = query::parse(call.param("locator").unwrap_or_default())?;
            let id = occurrence_build(call, &locator)?;
            let entity = with_build(call, id, |_, b| Ok(occurrences::problems(b)))?;
            Ok(call.respond(&entity, "problemOccurrences", &fields))
        }
        ["downloadBuildLog.html"] => {
            let id = build_id_param(call)?;
            let plain = call.param("plain") == Some("true");
            let (text, name) = with_build(call, id, |s, b| {
                let name = format!(
                    "{}_{}.log",
                    b.build_type,
                    b.number.as_deref().unwrap_or("N/A")
                );
                Ok((logs::text(s, b, call.now), name))
            })?;
            let mut response = typed(text, "text/plain;charset=UTF-8");
            if !plain {
                let disposition = format!("attachment; filename=\"{name}\"");
                if let Ok(value) = HeaderValue::from_str(&disposition) {
                    response
                        .headers_mut()
                        .insert(header::CONTENT_DISPOSITION, value);
                }
            }
            Ok(response)
        }
        ["app", "messages"] => {
            let id = build_id_param(call)?;
            let (since, count) = messages_count(call.param("messagesCount"))?;
            let json = with_build(call, id, |s, b| {
                Ok(logs::messages(s, b, since, count, call.now))
            })?;
            Ok(typed(json.to_string(), "application/json"))
        }
        ["authenticationTest.html"] => {
            let mut caller = call.caller.clone();
            let token = auth::csrf_token(&call.shared, &mut caller);
            let mut response = typed(token, "text/plain;charset=UTF-8");
            if let Some(cookie) = caller
                .new_session
                .filter(|sid| call.caller.new_session.as_ref() != Some(sid))
                .as_deref()
                .and_then(auth::set_cookie)
            {
                response.headers_mut().append(header::SET_COOKIE, cookie);
            }
            Ok(response)
        }
        _ => Err(ApiError::not_found(format!(
            "No resource matches GET /{}",
            path.join("/")
        ))),
    }
}

fn with_build<T>(
    call: &Call,
    id: u64,
    f: impl FnOnce(&State, &Build) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    call.shared.with(call.now, |s| {
        let b = s
            .builds
            .get(&id)
            .ok_or_else(|| ApiError::not_found(format!("No build found by id '{id}'.")))?;
        f(s, b)
    })
}

fn build_type(s: &State, locator: &str) -> Result<Entity, ApiError> {
    let id = match query::parse(locator)? {
        Locator::Single(id) => id,
        dims => dims.get("id").map(str::to_string).ok_or_else(|| {
            ApiError::locator(format!("Unsupported build type locator '{locator}'"))
        })?,
    };
    if !s.types.contains_key(&id) {
        return Err(ApiError::not_found(format!(
            "No build type nor template is found by id '{id}'."
        )));
    }
    Ok(build_type_entity(s, &id))
}

/// The build an occurrences locator names with `build:(…)`.
fn occurrence_build(call: &Call, locator: &Locator) -> Result<u64, ApiError> {
    let build = locator.get("build").ok_or_else(|| {
        ApiError::bad_request(
            "Unsupported locator: specify the 'build' dimension, e.g. build:(id:1)",
        )
    })?;
    call.shared.with(call.now, |s| query::single(s, build))
}

fn build_id_param(call: &Call) -> Result<u64, ApiError> {
    let text = call
        .param("buildId")
        .ok_or_else(|| ApiError::bad_request("Parameter 'buildId' is required."))?;
    text.parse()
        .map_err(|_| ApiError::bad_request(format!("Invalid buildId '{text}'.")))
}

/// `messagesCount=SINCE,COUNT` (default: everything).
fn messages_count(param: Option<&str>) -> Result<(u64, i64), ApiError> {
    let Some(text) = param else {
        return Ok((0, 0));
    };
    let (since, count) = text.split_once(',').unwrap_or((text, "0"));
    let since = since.trim().parse().unwrap_or(0);
    let count = count
        .trim()
        .parse()
        .map_err(|_| ApiError::bad_request(format!("Invalid messagesCount '{text}'.")))?;
    Ok((since, count))
}
