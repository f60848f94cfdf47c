//! The build queue and builds endpoints (reference §4–§6): trigger, read one or many,
//! cancel by either endpoint, delete from the queue, single fields as text. Resources
//! around a build (artifacts, tests, logs, …) are in `resources.rs`.

// Handlers return a ready `Response` as their error: it is what axum sends.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};

use super::body::{self, CancelRequest, Format};
use super::build::{Build, Comment, Phase, Plan, Transition};
use super::errors::{self, ApiError};
use super::node::Fields;
use super::query;
use super::render::{build_entity, builds_entity};
use super::resources;
use super::server::{encode, plain_text, Call};
use super::state::State;

/// The statuses a finished build can have.
const STATUSES: [&str; 4] = ["SUCCESS", "FAILURE", "ERROR", "UNKNOWN"];

pub(super) fn handle(call: Call, path: &[&str]) -> Result<Response, ApiError> {
    let get = call.method == Method::GET || call.method == Method::HEAD;
    let post = call.method == Method::POST;
    let delete = call.method == Method::DELETE;
    match path {
        ["app", "rest", "buildQueue"] if post => trigger(&call),
        ["app", "rest", "buildQueue"] if get => list(&call, true),
        ["app", "rest", "buildQueue", locator] if get => {
            let id = call
                .shared
                .with(call.now, |s| query::promotion(s, locator))?;
            one(&call, id)
        }
        ["app", "rest", "buildQueue", locator, field] if get => {
            let id = call
                .shared
                .with(call.now, |s| query::promotion(s, locator))?;
            field_text(&call, id, field)
        }
        ["app", "rest", "buildQueue", locator] if post => cancel_queued(&call, locator),
        ["app", "rest", "buildQueue", locator] if delete => delete_queued(&call, locator),
        ["app", "rest", "builds"] if get => list(&call, false),
        ["app", "rest", "builds", "multiple", locator] if get => {
            list_by(&call, Some(locator), false)
        }
        ["app", "rest", "builds", locator] if get => {
            let id = call.shared.with(call.now, |s| query::single(s, locator))?;
            one(&call, id)
        }
        ["app", "rest", "builds", locator] if post => cancel_build(&call, locator),
        ["app", "rest", "builds", locator, rest @ ..] if get => {
            let id = call.shared.with(call.now, |s| query::single(s, locator))?;
            match rest {
                [field] if !resources::is_resource(field) => field_text(&call, id, field),
                _ => resources::build_resource(&call, id, rest),
            }
        }
        _ if get => resources::handle(&call, path),
        _ => Err(ApiError::not_found(format!(
            "No resource matches {} /{}",
            call.method,
            path.join("/")
        ))),
    }
}

/// One build in any state, with the request's `fields`.
fn one(call: &Call, id: u64) -> Result<Response, ApiError> {
    let fields = call.fields()?;
    let entity = call.shared.with(call.now, |s| {
        s.note_read(id, call.now);
        s.builds
            .get(&id)
            .map(|b| build_entity(s, b, call.now, false))
    });
    let entity =
        entity.ok_or_else(|| ApiError::not_found(format!("No build found by id '{id}'.")))?;
    Ok(call.respond(&entity, "build", &fields))
}

fn list(call: &Call, queued_only: bool) -> Result<Response, ApiError> {
    list_by(call, call.param("locator"), queued_only)
}

fn list_by(call: &Call, locator: Option<&str>, queued_only: bool) -> Result<Response, ApiError> {
    let fields = call.fields()?;
    let base = if queued_only {
        "/app/rest/buildQueue"
    } else {
        "/app/rest/builds"
    };
    let entity = call.shared.with(call.now, |s| {
        let page = query::list(s, locator, queued_only)?;
        for id in &page.ids {
            s.note_read(*id, call.now);
        }
        let items = page
            .ids
            .iter()
            .filter_map(|id| s.builds.get(id))
            .map(|b| build_entity(s, b, call.now, false))
            .collect::<Vec<_>>();
        let href = match locator {
            Some(l) => format!("{base}?locator={}", encode(l)),
            None => base.to_string(),
        };
        let next = page.more.then(|| {
            let rest = locator.map(strip_paging).unwrap_or_default();
            let next = format!(
                "{rest}count:{},start:{}",
                page.count,
                page.start + page.ids.len()
            );
            format!("{base}?locator={}", encode(&next))
        });
        if !queued_only {
            s.stats.builds_list_sizes.push(items.len());
        }
        Ok::<_, ApiError>(builds_entity(items, href, next))
    })?;
    Ok(call.respond(&entity, "builds", &fields))
}

/// The locator without its `count` and `start` dimensions, ready for new ones.
fn strip_paging(locator: &str) -> String {
    match query::parse(locator) {
        Ok(super::locator::Locator::Dims(dims)) => dims
            .iter()
            .filter(|(n, _)| n != "count" && n != "start")
            .map(|(n, v)| format!("{n}:{},", super::locator::quote(v)))
            .collect(),
        _ => String::new(),
    }
}

/// `GET …/{locator}/{field}` as `text/plain`.
fn field_text(call: &Call, id: u64, field: &str) -> Result<Response, ApiError> {
    let value = call.shared.with(call.now, |s| {
        s.note_read(id, call.now);
        let b = s
            .builds
            .get(&id)
            .ok_or_else(|| ApiError::not_found(format!("No build found by id '{id}'.")))?;
        Ok::<_, ApiError>(match field {
            "id" => Some(b.id.to_string()),
            "buildTypeId" => Some(b.build_type.clone()),
            "state" => Some(b.phase.as_str().to_string()),
            "status" => b.status.clone(),
            "statusText" => b.status_text.clone(),
            "number" => b.number.clone(),
            "branchName" => b.branch.clone(),
            "percentageComplete" => b.percent(call.now).map(|p| p.to_string()),
            "failedToStart" => Some(b.failed_to_start.to_string()),
            "queuedDate" => Some(s.date(b.queued_at)),
            "startDate" => b.started_at.map(|t| s.date(t)),
            "finishDate" => b
                .finished_at
                .filter(|_| b.phase == Phase::Finished)
                .map(|t| s.date(t)),
            _ => {
                return Err(ApiError::not_found(format!(
                    "Field '{field}' is not supported. Supported are: id, buildTypeId, state, status, statusText, number, branchName, percentageComplete, failedToStart, queuedDate, startDate, finishDate"
                )))
            }
        })
    })?;
    Ok(plain_text(&call.headers, value.unwrap_or_default()))
}

fn require_format(call: &Call) -> Result<Format, Response> {
    body::content_format(&call.headers).ok_or_else(errors::unsupported_media_type)
}

/// `POST /app/rest/buildQueue`.
fn trigger(call: &Call) -> Result<Response, ApiError> {
    let format = match require_format(call) {
        Ok(format) => format,
        Err(response) => return Ok(response),
    };
    let request = body::trigger(format, &call.body)?;
    let build_type = request
        .build_type
        .clone()
        .ok_or_else(|| ApiError::bad_request("No 'buildType' element in the posted entry."))?;
    let mut properties = BTreeMap::new();
    for (name, value) in &request.properties {
        let name = name.clone().ok_or_else(|| {
            ApiError::bad_request("Incorrectly configured parameter: the name is null.")
        })?;
        properties.insert(name, value.clone().unwrap_or_default());
    }
    let comment = match &request.comment {
        Some(None) => {
            return Err(ApiError::bad_request(
                "Text should be specified for the comment.",
            ))
        }
        Some(Some(text)) => Some(text.clone()),
        None => None,
    };
    let user = call.caller.user.clone();
    let entity = call.shared.with(call.now, |s| {
        let spec = s.types.get(&build_type).cloned().ok_or_else(|| {
            ApiError::not_found(format!(
                "No build type nor template is found by id '{build_type}'."
            ))
        })?;
        let plan = plan(spec, &properties)?;
        let (branch, default_branch) = match (&plan.spec.default_branch, &request.branch) {
            (Some(default), Some(asked)) => (Some(asked.clone()), asked == default),
            (Some(default), None) => (Some(default.clone()), true),
            (None, asked) => (asked.clone(), false),
        };
        let id = s.next_build_id();
        let build = Build {
            branch,
            default_branch,
            properties: properties.clone(),
            comment: comment.map(|text| Comment {
                user: user.clone(),
                text,
                at: call.now,
            }),
            triggered_by: user.clone(),
            ..Build::queued(id, build_type.clone(), plan, call.now)
        };
        *s.stats.triggers.entry(build_type.clone()).or_default() += 1;
        let entity = build_entity(s, &build, call.now, true);
        s.builds.insert(id, build);
        Ok::<_, ApiError>(entity)
    })?;
    Ok(call.respond(&entity, "build", &Fields::long()))
}

/// The build type's spec with `sim.status` and `sim.duration.ms` applied.
fn plan(
    spec: super::BuildTypeSpec,
    properties: &BTreeMap<String, String>,
) -> Result<Plan, ApiError> {
    let status = match properties.get("sim.status") {
        Some(status) if STATUSES.contains(&status.as_str()) => status.clone(),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "Build property sim.status is '{other}'; the simulator expects SUCCESS, FAILURE, ERROR or UNKNOWN."
            )))
        }
        None => spec.status.clone(),
    };
    let duration = match properties.get("sim.duration.ms") {
        Some(ms) => Duration::from_millis(ms.trim().parse().map_err(|_| {
            ApiError::bad_request(format!(
                "Build property sim.duration.ms is '{ms}'; the simulator expects milliseconds."
            ))
        })?),
        None => spec.duration,
    };
    Ok(Plan {
        spec,
        status,
        duration,
    })
}

fn cancel_request(call: &Call) -> Result<Result<CancelRequest, Response>, ApiError> {
    match require_format(call) {
        Ok(format) => Ok(Ok(body::cancel(format, &call.body)?)),
        Err(response) => Ok(Err(response)),
    }
}

/// `POST /app/rest/buildQueue/{locator}`: removes a queued build; answers `$long`.
fn cancel_queued(call: &Call, locator: &str) -> Result<Response, ApiError> {
    let request = match cancel_request(call)? {
        Ok(request) => request,
        Err(response) => return Ok(response),
    };
    if request.readd_into_queue {
        return Err(ApiError::bad_request(
            "Restore in queue is not supported for queued builds.",
        ));
    }
    let user = call.caller.user.clone();
    let entity = call.shared.with(call.now, |s| {
        let id = query::queued(s, locator)?;
        remove(s, id, user, request.comment, call);
        let build = s
            .builds
            .get(&id)
            .ok_or_else(|| ApiError::internal("Failed to cancel queued build"))?;
        Ok::<_, ApiError>(build_entity(s, build, call.now, false))
    })?;
    Ok(call.respond(&entity, "build", &Fields::long()))
}

/// `DELETE /app/rest/buildQueue/{locator}`: removes the build and its canceled record.
fn delete_queued(call: &Call, locator: &str) -> Result<Response, ApiError> {
    let user = call.caller.user.clone();
    call.shared.with(call.now, |s| {
        let id = query::queued(s, locator)?;
        remove(s, id, user, None, call);
        s.builds.remove(&id);
        Ok::<_, ApiError>(())
    })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn remove(
    s: &mut State,
    id: u64,
    user: Option<super::build::User>,
    comment: Option<String>,
    call: &Call,
) {
    if let Some(b) = s.builds.get_mut(&id) {
        b.remove_from_queue(user, comment, call.now);
        s.announce(id, Transition::RemovedFromQueue, call.now);
    }
}

/// `POST /app/rest/builds/{locator}`: cancels a queued or running build.
fn cancel_build(call: &Call, locator: &str) -> Result<Response, ApiError> {
    let request = match cancel_request(call)? {
        Ok(request) => request,
        Err(response) => return Ok(response),
    };
    let fields = call.fields()?;
    let user = call.caller.user.clone();
    if request.readd_into_queue && user.is_none() {
        return Err(ApiError::bad_request(
            "Cannot re-add build into queue when no current user is present. Please make sure the operation is performed under a regular user.",
        ));
    }
    let entity = call.shared.with(call.now, |s| {
        let id = query::single(s, locator)?;
        let phase = s.builds.get(&id).map(|b| (b.phase, b.canceled.is_some()));
        match phase {
            Some((Phase::Queued, _)) => remove(s, id, user.clone(), request.comment.clone(), call),
            Some((Phase::Running, already)) => {
                if !already {
                    let text = request
                        .comment
                        .clone()
                        .unwrap_or_else(|| "Canceled via REST API".into());
                    if let Some(b) = s.builds.get_mut(&id) {
                        b.stop(user.clone(), text, call.now);
                    }
                    s.announce(id, Transition::Interrupted, call.now);
                }
                if request.readd_into_queue {
                    readd(s, id, call);
                }
            }
            Some((Phase::Finished, true)) => {}
            Some((Phase::Finished, false)) => {
                return Err(ApiError::bad_request("Cannot cancel finished build"))
            }
            None => return Err(ApiError::not_found(format!("No build found by id '{id}'."))),
        }
        let build = s
            .builds
            .get(&id)
            .ok_or_else(|| ApiError::not_found(format!("No build found by id '{id}'.")))?;
        Ok::<_, ApiError>(build_entity(s, build, call.now, false))
    })?;
    Ok(call.respond(&entity, "build", &fields))
}

/// Queues a copy of a stopped build, as `readdIntoQueue=true` does.
fn readd(s: &mut State, id: u64, call: &Call) {
    let Some(original) = s.builds.get(&id).cloned() else {
        return;
    };
    let new_id = s.next_build_id();
    let copy = original.requeued(new_id, call.now);
    *s.stats.triggers.entry(copy.build_type.clone()).or_default() += 1;
    s.builds.insert(new_id, copy);
}
