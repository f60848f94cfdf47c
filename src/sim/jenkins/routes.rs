//! The HTTP front: every request is counted, meets the injected faults, is
//! authenticated (Basic, pre-emptively, as Jenkins reads it) and, when it is a POST not
//! authenticated by an API token, must carry a crumb of its session. Then the path is
//! parsed the way Stapler walks the object tree (`/job/a/job/b/57/…`) and handed to the
//! handlers in `routes/`.

// Refusals are ready `Response`s, returned as errors: they are what axum sends.
#![allow(clippy::result_large_err)]

mod api;
mod build;
mod call;
mod computer;
mod pages;
mod path;
mod queue;
mod root;
mod trigger;

use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::time::Instant;

use super::auth::Identity;
use super::crumbs::CRUMB_FIELD;
use super::faults::Fault;
use super::server::ConnInfo;
use super::shared::{Shared, VERSION};
use call::Call;
use path::Target;

/// The largest request body read (form fields of a trigger).
const BODY_LIMIT: usize = 4 << 20;

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/_sim/stats", get(stats))
        .fallback(entry)
        .with_state(shared)
}

async fn stats(State(shared): State<Arc<Shared>>) -> Response {
    axum::Json(shared.lock().stats.snapshot()).into_response()
}

/// Counts, faults, then the request itself.
async fn entry(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(conn): ConnectInfo<ConnInfo>,
    request: Request,
) -> Response {
    let now = Instant::now();
    let (parts, body) = request.into_parts();
    let target = path::parse(parts.uri.path());
    let fault = {
        let mut world = shared.lock();
        let second = world.clock.second(now);
        world.stats.request(target.kind(&parts.method), now, second);
        world.faults.next()
    };
    match fault {
        Some(Fault::Status(status)) => return stamp(&shared, pages::status(status)),
        Some(Fault::Throttle(retry_after)) => {
            let mut response = pages::status(429);
            let seconds = retry_after.as_secs_f64().ceil() as u64;
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            return response;
        }
        Some(Fault::Drop) => {
            conn.kill();
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
        _ => {}
    }
    let body = match to_bytes(body, BODY_LIMIT).await {
        Ok(body) => body,
        Err(_) => {
            return stamp(
                &shared,
                pages::error(
                    StatusCode::BAD_REQUEST,
                    "Request body too large or unreadable",
                ),
            )
        }
    };
    let call = Call::new(shared.clone(), parts, &body, conn.remote, now);
    let response = match admit(&call, &target) {
        Ok(identity) => dispatch(&call.with_identity(identity), target),
        Err(refusal) => refusal,
    };
    let response = match fault {
        Some(Fault::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            response
        }
        Some(Fault::Lose(status)) => pages::status(status),
        _ => response,
    };
    stamp(&shared, response)
}

/// Startup, authentication and CSRF: the identity of an admitted request, or the
/// answer that refuses it.
fn admit(call: &Call, target: &Target) -> Result<Identity, Response> {
    if matches!(target, Target::Health) {
        return Ok(Identity::Anonymous);
    }
    let loading = call
        .shared
        .lock()
        .loading_until
        .is_some_and(|until| call.now < until);
    if loading {
        return Err(pages::loading());
    }
    let identity = call
        .shared
        .realm
        .authenticate(call.header(header::AUTHORIZATION.as_str()))
        .map_err(|user| pages::unauthorized(&user))?;
    if call.shared.realm.secured() && identity == Identity::Anonymous {
        return Err(pages::anonymous_forbidden());
    }
    let needs_crumb = call.method == Method::POST
        && call.shared.crumbs
        && !matches!(identity, Identity::Token(_));
    if needs_crumb {
        let crumb = call.header(CRUMB_FIELD).or_else(|| call.param(CRUMB_FIELD));
        let session = call.session();
        let valid = crumb.is_some_and(|crumb| {
            let world = call.shared.lock();
            world
                .sessions
                .valid(session.as_deref(), identity.crumb_user(), crumb)
        });
        if !valid {
            return Err(pages::no_valid_crumb());
        }
    }
    Ok(identity)
}

fn dispatch(call: &Call, target: Target) -> Response {
    match target {
        Target::Root(rest) => root::root(call, &rest),
        Target::Health => root::health(),
        Target::Crumb(rest) => root::crumb(call, &rest),
        Target::Me(rest) => root::me(call, &rest),
        Target::Queue(rest) => queue::queue(call, &rest),
        Target::Computer(rest) => computer::computer(call, &rest),
        Target::Job { names, rest } => job(call, &names, &rest),
        Target::Unknown => pages::not_found(),
    }
}

/// Everything under `/job/…`: the item's API, its triggers and its builds.
fn job(call: &Call, names: &[String], rest: &[String]) -> Response {
    let first = rest.first().map(String::as_str);
    match first {
        Some("build") if rest.len() == 1 => trigger::trigger(call, names, trigger::Endpoint::Build),
        Some("buildWithParameters") if rest.len() == 1 => {
            trigger::trigger(call, names, trigger::Endpoint::WithParameters)
        }
        Some(run) if path::is_build_ref(run) => build::build(call, names, run, &rest[1..]),
        _ => api::item(call, names, rest),
    }
}

/// Headers Jenkins puts on its answers.
fn stamp(shared: &Shared, mut response: Response) -> Response {
    let instance = shared.lock().instance.clone();
    let headers = response.headers_mut();
    headers.insert("X-Jenkins", HeaderValue::from_static(VERSION));
    if let Ok(value) = HeaderValue::from_str(&instance) {
        headers.insert("X-Jenkins-Session", value);
    }
    response
}

/// An empty answer with a status and a `Location`.
fn redirect(status: StatusCode, location: &str) -> Response {
    let mut response = (status, Body::empty()).into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}
