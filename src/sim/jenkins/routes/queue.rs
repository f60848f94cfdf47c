//! `/queue/…` (reference §5 and §7.2): the whole queue, one item (404 once a left item
//! has expired), `cancelItem` with its 204/404/500 answers, and the deprecated
//! per-item `cancelQueue` that always answers 204.

use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};

use super::super::queue::Cancel;
use super::super::render::queue;
use super::api;
use super::call::Call;
use super::pages;

pub(super) fn queue(call: &Call, rest: &[String]) -> Response {
    let parts: Vec<&str> = rest.iter().map(String::as_str).collect();
    match parts.as_slice() {
        [] => pages::html("Queue"),
        ["cancelItem"] => cancel_item(call),
        ["item", id, tail @ ..] => match id.parse::<u64>() {
            Ok(id) => item(call, id, tail),
            Err(_) => pages::not_found(),
        },
        _ => match api::flavor(rest) {
            Some(flavor) => {
                let world = call.shared.settled(call.now);
                api::render(call, &world, flavor, "queue", queue::queue)
            }
            None => pages::not_found(),
        },
    }
}

fn item(call: &Call, id: u64, tail: &[&str]) -> Response {
    if tail == ["cancelQueue"] {
        if call.method != Method::POST {
            return pages::post_only();
        }
        call.shared.settled(call.now).cancel_item(id, call.now);
        return StatusCode::NO_CONTENT.into_response();
    }
    let world = call.shared.settled(call.now);
    let Some(item) = world.item(id) else {
        return pages::not_found();
    };
    match tail {
        [] => pages::text(
            StatusCode::OK,
            "Queue item exists. For details check, for example, api/json?tree=cancelled,executable[url]".to_string(),
        ),
        ["api", kind] => match api::flavor(&["api".to_string(), kind.to_string()]) {
            Some(flavor) => api::render(call, &world, flavor, "item", |ctx, p| queue::item(ctx, p, item)),
            None => pages::not_found(),
        },
        _ => pages::not_found(),
    }
}

/// `Queue.doCancelItem`.
fn cancel_item(call: &Call) -> Response {
    if call.method != Method::POST {
        return pages::post_only();
    }
    let id = call
        .param("id")
        .and_then(|id| id.trim().parse::<u64>().ok())
        .unwrap_or(0);
    let outcome = call.shared.settled(call.now).cancel_item(id, call.now);
    match outcome {
        Cancel::Cancelled => StatusCode::NO_CONTENT.into_response(),
        Cancel::NotFound => pages::error(
            StatusCode::NOT_FOUND,
            &format!("Provided id ({id}) not found"),
        ),
        Cancel::AlreadyLeft => pages::server_error(&format!("Could not cancel run for id {id}")),
    }
}
