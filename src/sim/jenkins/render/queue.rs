//! Queue items (`Waiting`/`Blocked`/`Buildable`/`LeftItem`) and the queue, after
//! `samples/jenkins-queue-item-*.json`. Item fields have visibility 999, so a job's
//! `queueItem` shows them all except `actions`.

use super::super::clock::time_span;
use super::super::export::{list, ObjBuilder, Pruner, Value, ALWAYS, NESTED, TOP};
use super::super::queue::{Blockage, ItemState, Outcome, QueueItem};
use super::build::{cause, parameter_value};
use super::job::color;
use super::{run_ref, Ctx};

/// A queue item's JSON object.
pub(in crate::sim::jenkins) fn item<'t>(ctx: Ctx<'_>, p: Pruner<'t>, item: &QueueItem) -> Value {
    let world = ctx.world;
    let job = &world.jobs[item.job];
    let b = ObjBuilder::new(p, Some(item.class()))
        .obj("actions", TOP, |p| actions(p, item))
        .val(
            "blocked",
            ALWAYS,
            matches!(item.state, ItemState::Blocked(_)),
        )
        .val("buildable", ALWAYS, item.state == ItemState::Buildable)
        .val("id", ALWAYS, item.id)
        .val("inQueueSince", ALWAYS, ctx.ms(item.enqueued_at))
        .val("params", ALWAYS, item.params_text())
        .val("stuck", ALWAYS, world.stuck(item, ctx.now))
        .obj("task", ALWAYS, |p| {
            ObjBuilder::new(p, Some(job.class()))
                .val("name", ALWAYS, job.name())
                .val("url", ALWAYS, ctx.abs(&job.url()))
                .val("color", NESTED, color(job))
                .build()
        })
        .val("url", ALWAYS, format!("queue/item/{}/", item.id))
        .val("why", ALWAYS, why(ctx, item));
    let ready = item.ready_since.map(|at| ctx.ms(at));
    match item.state {
        ItemState::Waiting => b.val("timestamp", ALWAYS, ctx.ms(item.due)).build(),
        ItemState::Blocked(_) => b.val("buildableStartMilliseconds", ALWAYS, ready).build(),
        ItemState::Buildable => b
            .val("buildableStartMilliseconds", ALWAYS, ready)
            .val("pending", ALWAYS, false)
            .build(),
        ItemState::Left { outcome, .. } => b
            .val("cancelled", ALWAYS, outcome == Outcome::Cancelled)
            .obj("executable", ALWAYS, |p| match outcome {
                Outcome::Started(number) => run_ref(ctx, p, item.job, number, true),
                Outcome::Cancelled => Value::Null,
            })
            .build(),
    }
}

fn actions<'t>(p: Pruner<'t>, item: &QueueItem) -> Value {
    let params = item.params.as_deref();
    let count = usize::from(params.is_some()) + 1;
    list(p, 0..count, |p, i| {
        if i == 0 {
            if let Some(params) = params {
                return ObjBuilder::new(p, Some("hudson.model.ParametersAction"))
                    .obj("parameters", NESTED, |p| list(p, params, parameter_value))
                    .build();
            }
        }
        ObjBuilder::new(p, Some("hudson.model.CauseAction"))
            .obj("causes", NESTED, |p| list(p, &item.causes, cause))
            .build()
    })
}

/// `Queue.Item.getWhy()`, with Jenkins' message texts.
fn why(ctx: Ctx<'_>, item: &QueueItem) -> Option<String> {
    match item.state {
        ItemState::Waiting if item.due > ctx.now => Some(format!(
            "In the quiet period. Expires in {}",
            time_span(item.due - ctx.now)
        )),
        ItemState::Waiting => Some("Finished waiting".to_string()),
        ItemState::Blocked(Blockage::Held) => Some("Blocked by ‘sim-lock’".to_string()),
        ItemState::Blocked(Blockage::InProgress(number)) => {
            let eta =
                eta(ctx, item.job, number).map_or(String::new(), |eta| format!(" (ETA: {eta})"));
            Some(format!("Build #{number} is already in progress{eta}"))
        }
        ItemState::Buildable => Some("Waiting for next available executor".to_string()),
        ItemState::Left { .. } => None,
    }
}

/// Time left of a running build by its job's estimate.
fn eta(ctx: Ctx<'_>, job: usize, number: u32) -> Option<String> {
    let estimate = ctx.world.estimated_duration(job)?;
    let build = ctx.world.jobs[job].build(number)?;
    let elapsed = ctx.now.saturating_duration_since(build.started_at);
    estimate.checked_sub(elapsed).map(time_span)
}

/// `/queue/api/json`: the queued (not left) items, inline.
pub(in crate::sim::jenkins) fn queue<'t>(ctx: Ctx<'_>, p: Pruner<'t>) -> Value {
    let items = ctx.world.queue.iter().filter(|item| item.queued());
    ObjBuilder::new(p, Some("hudson.model.Queue"))
        .val("discoverableItems", TOP, Value::Arr(Vec::new()))
        .inline("items", TOP, |p| list(p, items, |p, i| item(ctx, p, i)))
        .build()
}
