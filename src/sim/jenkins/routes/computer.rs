//! `/computer/…`: the node list and the built-in node, which python-jenkins'
//! `get_running_builds` reads (it still asks for `(master)`, the old name of
//! `(built-in)`).

use axum::response::Response;

use super::super::render::computer;
use super::api;
use super::call::Call;
use super::pages;

pub(super) fn computer(call: &Call, rest: &[String]) -> Response {
    let executors = call.shared.executors_shown;
    match rest {
        [] => pages::html("Nodes"),
        [node, tail @ ..] if node == "(built-in)" || node == "(master)" => {
            match api::flavor(tail) {
                Some(flavor) => {
                    let world = call.shared.settled(call.now);
                    api::render(call, &world, flavor, "computer", |ctx, p| {
                        computer::built_in(ctx, p, executors)
                    })
                }
                None if tail.is_empty() => pages::html("Built-In Node"),
                None => pages::not_found(),
            }
        }
        _ => match api::flavor(rest) {
            Some(flavor) => {
                let world = call.shared.settled(call.now);
                api::render(call, &world, flavor, "computerSet", |ctx, p| {
                    computer::computers(ctx, p, executors)
                })
            }
            None => pages::not_found(),
        },
    }
}
