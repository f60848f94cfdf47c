//! The built-in node as `/computer/api/json` and `/computer/(built-in)/api/json` export
//! it: its executors, each with the build it runs (`currentExecutable`). FreeStyle
//! builds occupy the node's executors; Pipeline builds run on flyweight one-off
//! executors, listed apart in `oneOffExecutors`.

use super::super::export::{list, ObjBuilder, Pruner, Value, ALWAYS, NESTED, TOP};
use super::super::spec::JobKind;
use super::{run_ref, Ctx};

/// `/computer/api/json`.
pub(in crate::sim::jenkins) fn computers<'t>(
    ctx: Ctx<'_>,
    p: Pruner<'t>,
    executors: usize,
) -> Value {
    let running = running(ctx, JobKind::FreeStyle).len();
    ObjBuilder::new(p, Some("hudson.model.ComputerSet"))
        .val("busyExecutors", TOP, running as u64)
        .inline("computer", TOP, |p| {
            list(p, [()], |p, ()| built_in(ctx, p, executors))
        })
        .val("displayName", TOP, "Nodes")
        .val("totalExecutors", TOP, executors.max(running) as u64)
        .build()
}

/// The built-in node (`Hudson$MasterComputer`).
pub(in crate::sim::jenkins) fn built_in<'t>(
    ctx: Ctx<'_>,
    p: Pruner<'t>,
    executors: usize,
) -> Value {
    let freestyle = running(ctx, JobKind::FreeStyle);
    let pipelines = running(ctx, JobKind::Pipeline);
    let slots = executors.max(freestyle.len());
    let idle = freestyle.is_empty() && pipelines.is_empty();
    ObjBuilder::new(p, Some("hudson.model.Hudson$MasterComputer"))
        .val("actions", TOP, Value::Arr(Vec::new()))
        .obj("assignedLabels", TOP, |p| {
            list(p, [()], |p, ()| {
                ObjBuilder::new(p, None)
                    .val("name", ALWAYS, "built-in")
                    .build()
            })
        })
        .val("description", TOP, "the Jenkins controller's built-in node")
        .val("displayName", TOP, "Built-In Node")
        .obj("executors", TOP, |p| {
            list(p, 0..slots, |p, i| {
                executor(ctx, p, i, freestyle.get(i).copied())
            })
        })
        .val("icon", TOP, "symbol-computer")
        .val("iconClassName", TOP, "symbol-computer")
        .val("idle", TOP, idle)
        .val("jnlpAgent", TOP, false)
        .val("launchSupported", TOP, true)
        .val("manualLaunchAllowed", TOP, true)
        .val("numExecutors", TOP, executors as u64)
        .val("offline", TOP, false)
        .val("offlineCause", TOP, Value::Null)
        .val("offlineCauseReason", TOP, "")
        .obj("oneOffExecutors", TOP, |p| {
            list(p, pipelines.iter().enumerate(), |p, (i, run)| {
                executor(ctx, p, i, Some(*run))
            })
        })
        .val("temporarilyOffline", TOP, false)
        .build()
}

fn executor<'t>(ctx: Ctx<'_>, p: Pruner<'t>, number: usize, run: Option<(usize, u32)>) -> Value {
    ObjBuilder::new(p, Some("hudson.model.Executor"))
        .obj("currentExecutable", NESTED, |p| {
            run.map_or(Value::Null, |(job, n)| run_ref(ctx, p, job, n, true))
        })
        .val("idle", NESTED, run.is_none())
        .val("likelyStuck", NESTED, false)
        .val("number", NESTED, number as u64)
        .val("progress", NESTED, if run.is_some() { 0i64 } else { -1 })
        .build()
}

/// Running builds of one kind as `(job index, number)`, in start order.
fn running(ctx: Ctx<'_>, kind: JobKind) -> Vec<(usize, u32)> {
    let mut runs: Vec<_> = ctx
        .world
        .jobs
        .iter()
        .enumerate()
        .flat_map(|(index, job)| {
            job.builds
                .iter()
                .filter(|b| b.building() && b.kind == kind)
                .map(move |b| (b.started_at, index, b.number))
        })
        .collect();
    runs.sort();
    runs.into_iter()
        .map(|(_, job, number)| (job, number))
        .collect()
}
