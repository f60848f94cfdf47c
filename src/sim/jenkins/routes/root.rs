//! The root object and its neighbours: `/` (a page, with `X-Jenkins`), `/api/json`,
//! `/health`, the crumb issuer (which opens a session and sets its cookie) and `/me`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;

use super::super::auth::Identity;
use super::super::crumbs::CRUMB_FIELD;
use super::super::export::Value;
use super::super::render::root;
use super::api::{self, Flavor};
use super::call::Call;
use super::pages;

/// The only `xpath` the crumb issuer answers with text (`CrumbIssuer.RestrictedApi`).
const CRUMB_XPATH: &str = "concat(//crumbRequestField,\":\",//crumb)";

pub(super) fn root(call: &Call, rest: &[String]) -> Response {
    if rest.is_empty() {
        return pages::html("Dashboard");
    }
    let Some(flavor) = api::flavor(rest) else {
        return pages::not_found();
    };
    let world = call.shared.settled(call.now);
    let shared = &call.shared;
    let (executors, crumbs, secured) = (
        shared.executors_shown,
        shared.crumbs,
        shared.realm.secured(),
    );
    api::render(call, &world, flavor, "hudson", |ctx, p| {
        root::root(ctx, p, executors, crumbs, secured)
    })
}

/// `HealthCheckAction`: no authentication.
pub(super) fn health() -> Response {
    pages::with_type(
        StatusCode::OK,
        "application/json;charset=UTF-8",
        r#"{"status":true}"#,
    )
}

/// `/crumbIssuer/api/json|xml`: the crumb of the caller on its session, opening one
/// (and setting its cookie) if the request has none. 404 when CSRF protection is off.
pub(super) fn crumb(call: &Call, rest: &[String]) -> Response {
    let Some(flavor) = api::flavor(rest).filter(|_| call.shared.crumbs) else {
        return pages::not_found();
    };
    let session = call.session();
    let (issued, cookie_name) = {
        let mut world = call.shared.lock();
        let issued = world
            .sessions
            .issue(session.as_deref(), call.identity.crumb_user());
        (issued, world.sessions.cookie_name())
    };
    let mut response = match (flavor, call.param("xpath")) {
        (Flavor::Xml, Some(CRUMB_XPATH)) => {
            pages::text(StatusCode::OK, format!("{CRUMB_FIELD}:{}", issued.crumb))
        }
        (Flavor::Xml, Some(_)) => pages::forbidden("primitive XPath result sets forbidden"),
        _ => {
            let value: Value =
                root::crumb(super::super::export::Pruner::root(None, 0), &issued.crumb);
            api::respond(call, flavor, "defaultCrumbIssuer", &value)
        }
    };
    if issued.new_session {
        let cookie = format!("{cookie_name}={}; Path=/; HttpOnly", issued.session);
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// `/me/api/json`: the signed-in user; not available to anonymous.
pub(super) fn me(call: &Call, rest: &[String]) -> Response {
    let (Identity::Token(user) | Identity::Password(user)) = &call.identity else {
        return pages::forbidden("/me is not available when not logged in");
    };
    if rest.is_empty() {
        return pages::html(user);
    }
    let Some(flavor) = api::flavor(rest) else {
        return pages::not_found();
    };
    let world = call.shared.settled(call.now);
    api::render(call, &world, flavor, "user", |ctx, p| {
        root::user(ctx, p, user)
    })
}
