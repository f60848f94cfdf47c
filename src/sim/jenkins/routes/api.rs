//! The `api/json` and `api/xml` views of any model object (`tree=`, `depth=`,
//! `pretty=`, and the crumb issuer's whitelisted `xpath=`), with the headers of
//! `Api.setHeaders`; and jobs' and folders' own URLs.

use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;

use super::super::export::{parse_tree, to_json, to_xml, Pruner, Value};
use super::super::jobs::{resolve, Found};
use super::super::render::{job, Ctx};
use super::super::world::World;
use super::call::Call;
use super::pages;

const JSON: &str = "application/json;charset=UTF-8";
const XML: &str = "application/xml;charset=UTF-8";

/// The flavour an `api/…` suffix asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flavor {
    Json,
    Xml,
}

/// `["api", "json"]` → JSON; `None` for anything else.
pub(super) fn flavor(rest: &[String]) -> Option<Flavor> {
    match rest {
        [api, kind] if api == "api" => match kind.as_str() {
            "json" => Some(Flavor::Json),
            "xml" => Some(Flavor::Xml),
            _ => None,
        },
        _ => None,
    }
}

/// Renders an object with the request's pruning; `root` names the XML root element of
/// an object without a class.
pub(super) fn render(
    call: &Call,
    world: &World,
    flavor: Flavor,
    root: &str,
    object: impl for<'a, 't> FnOnce(Ctx<'a>, Pruner<'t>) -> Value,
) -> Response {
    let tree = match call.param("tree").map(parse_tree) {
        Some(Err(why)) => return pages::server_error(&why),
        Some(Ok(tree)) => Some(tree),
        None => None,
    };
    let depth = call
        .param("depth")
        .and_then(|d| d.trim().parse().ok())
        .unwrap_or(0);
    let value = object(
        Ctx::new(world, call.now),
        Pruner::root(tree.as_ref(), depth),
    );
    respond(call, flavor, root, &value)
}

/// Writes a rendered value in the flavour asked for.
pub(super) fn respond(call: &Call, flavor: Flavor, root: &str, value: &Value) -> Response {
    let (content_type, body) = match flavor {
        Flavor::Json => (JSON, to_json(value, call.param("pretty") == Some("true"))),
        Flavor::Xml => (XML, to_xml(value, root)),
    };
    let mut response = pages::with_type(StatusCode::OK, content_type, body);
    let headers = response.headers_mut();
    headers.insert(
        "X-Content-Type-Options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("X-Frame-Options", HeaderValue::from_static("deny"));
    response
}

/// A job's or a folder's URL: its page, or its API.
pub(super) fn item(call: &Call, names: &[String], rest: &[String]) -> Response {
    let world = call.shared.settled(call.now);
    let Some(found) = resolve(&world.root, names) else {
        return pages::not_found();
    };
    if rest.is_empty() {
        return pages::html(&names.join(" » "));
    }
    let Some(flavor) = flavor(rest) else {
        return pages::not_found();
    };
    match found {
        Found::Job(index) => render(call, &world, flavor, "job", |ctx, p| {
            job::job(ctx, p, index)
        }),
        Found::Folder(folder) => render(call, &world, flavor, "folder", |ctx, p| {
            job::folder(ctx, p, folder)
        }),
    }
}
