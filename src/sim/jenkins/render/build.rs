//! A build (`WorkflowRun` or `FreeStyleBuild`) as `…/N/api/json` exports it, after
//! `samples/jenkins-build-{running,success,aborted,unstable-freestyle}.json`.

use super::super::builds::{Build, Cause, ParamValue};
use super::super::export::{
    class_only, list, opaque, ObjBuilder, Pruner, Value, DEEP, NESTED, TOP,
};
use super::super::jobs::build_url;
use super::super::spec::{JobKind, ParamKind};
use super::{run_ref, Ctx};

const WORKFLOW_RUN: &str = "org.jenkinsci.plugins.workflow.job.WorkflowRun";
const FREESTYLE_BUILD: &str = "hudson.model.FreeStyleBuild";

pub(in crate::sim::jenkins) fn class(kind: JobKind) -> &'static str {
    match kind {
        JobKind::Pipeline => WORKFLOW_RUN,
        JobKind::FreeStyle => FREESTYLE_BUILD,
    }
}

/// The build's JSON object; `with_class` is false only for a Pipeline run's
/// `previousBuild`/`nextBuild`.
pub(in crate::sim::jenkins) fn build<'t>(
    ctx: Ctx<'_>,
    p: Pruner<'t>,
    job: usize,
    build: &Build,
    with_class: bool,
) -> Value {
    let world = ctx.world;
    let job_ref = &world.jobs[job];
    let url = ctx.abs(&build_url(&job_ref.names, build.number));
    let building = build.building();
    let pipeline = build.kind == JobKind::Pipeline;
    let estimated = world
        .estimated_duration(job)
        .map_or(-1, super::super::clock::millis);
    let executor = building.then_some(match build.kind {
        JobKind::Pipeline => "hudson.model.OneOffExecutor",
        JobKind::FreeStyle => "hudson.model.Executor",
    });
    let description = build.description.clone();
    let b = ObjBuilder::new(p, with_class.then(|| class(build.kind)))
        .obj("actions", TOP, |p| actions(p, build))
        .obj("artifacts", TOP, |p| artifacts(p, build))
        .val("building", TOP, building)
        .val("description", TOP, description)
        .val("displayName", TOP, format!("#{}", build.number))
        .val(
            "duration",
            TOP,
            super::super::clock::millis(build.duration()),
        )
        .val("estimatedDuration", TOP, estimated)
        .obj("executor", TOP, |p| match executor {
            Some(class) => ObjBuilder::new(p, Some(class)).build(),
            None => Value::Null,
        })
        .val(
            "fullDisplayName",
            TOP,
            format!("{} #{}", job_ref.full_display_name(), build.number),
        );
    let b = b.val("id", TOP, build.number.to_string());
    let b = if pipeline {
        b
    } else {
        b.val("inProgress", TOP, build.in_progress())
    };
    let b = b
        .val("keepLog", TOP, false)
        .val("number", NESTED, build.number)
        .val("queueId", TOP, build.queue_id)
        .val("result", TOP, build.result(ctx.now))
        .val("timestamp", TOP, ctx.ms(build.started_at))
        .val("url", NESTED, url);
    if pipeline {
        let previous = job_ref
            .builds
            .iter()
            .rev()
            .find(|b| b.number < build.number)
            .map(|b| b.number);
        let next = job_ref
            .builds
            .iter()
            .find(|b| b.number > build.number)
            .map(|b| b.number);
        b.val("changeSets", TOP, Value::Arr(Vec::new()))
            .val("culprits", TOP, Value::Arr(Vec::new()))
            .val("inProgress", TOP, building)
            .obj("nextBuild", TOP, |p| {
                next.map_or(Value::Null, |n| run_ref(ctx, p, job, n, false))
            })
            .obj("previousBuild", TOP, |p| {
                previous.map_or(Value::Null, |n| run_ref(ctx, p, job, n, false))
            })
            .build()
    } else {
        b.val("builtOn", TOP, "")
            .obj("changeSet", TOP, |p| {
                ObjBuilder::new(p, Some("hudson.scm.EmptyChangeLogSet"))
                    .val("items", TOP, Value::Arr(Vec::new()))
                    .val("kind", TOP, Value::Null)
                    .build()
            })
            .val("culprits", TOP, Value::Arr(Vec::new()))
            .build()
    }
}

enum Action<'a> {
    Parameters(&'a [ParamValue]),
    Causes(&'a [Cause]),
    Interrupted(&'a str),
    Tests {
        failed: u32,
        skipped: u32,
        total: u32,
    },
    ClassOnly(&'static str),
    Opaque,
}

fn actions<'t>(p: Pruner<'t>, build: &Build) -> Value {
    let mut actions = Vec::new();
    if let Some(params) = &build.params {
        actions.push(Action::Parameters(params));
    }
    actions.push(Action::Causes(&build.causes));
    if let Some(interruption) = &build.interruption {
        actions.push(Action::Interrupted(&interruption.by));
    }
    if build.kind == JobKind::Pipeline {
        actions.push(Action::Opaque);
    }
    if let Some(tests) = build.test_report() {
        actions.push(Action::Tests {
            failed: tests.failed,
            skipped: tests.skipped,
            total: tests.passed + tests.failed + tests.skipped,
        });
    }
    match build.kind {
        JobKind::Pipeline => actions.extend([
            Action::ClassOnly("org.jenkinsci.plugins.workflow.cps.EnvActionImpl"),
            Action::Opaque,
            Action::ClassOnly("org.jenkinsci.plugins.workflow.job.views.FlowGraphAction"),
            Action::Opaque,
        ]),
        JobKind::FreeStyle => actions.extend([Action::Opaque, Action::Opaque]),
    }
    list(p, actions, |p, action| match action {
        Action::Parameters(params) => ObjBuilder::new(p, Some("hudson.model.ParametersAction"))
            .obj("parameters", NESTED, |p| list(p, params, parameter_value))
            .build(),
        Action::Causes(causes) => ObjBuilder::new(p, Some("hudson.model.CauseAction"))
            .obj("causes", NESTED, |p| list(p, causes, cause))
            .build(),
        Action::Interrupted(by) => ObjBuilder::new(p, Some("jenkins.model.InterruptedBuildAction"))
            .obj("causes", TOP, |p| {
                list(p, [by], |p, by| {
                    ObjBuilder::new(
                        p,
                        Some("jenkins.model.CauseOfInterruption$UserInterruption"),
                    )
                    .val("shortDescription", TOP, format!("Aborted by {by}"))
                    .val("userId", TOP, by)
                    .build()
                })
            })
            .build(),
        Action::Tests {
            failed,
            skipped,
            total,
        } => ObjBuilder::new(p, Some("hudson.tasks.junit.TestResultAction"))
            .val("failCount", NESTED, failed)
            .val("skipCount", NESTED, skipped)
            .val("totalCount", NESTED, total)
            .val("urlName", NESTED, "testReport")
            .build(),
        Action::ClassOnly(class) => class_only(class),
        Action::Opaque => opaque(),
    })
}

/// A `ParameterValue`; booleans are JSON booleans, passwords show no value.
pub(in crate::sim::jenkins) fn parameter_value<'t>(p: Pruner<'t>, value: &ParamValue) -> Value {
    let b = ObjBuilder::new(p, Some(value.class())).val("name", DEEP, value.name.as_str());
    match value.kind {
        ParamKind::Password => b.build(),
        ParamKind::Boolean => b
            .val("value", DEEP, value.value.eq_ignore_ascii_case("true"))
            .build(),
        _ => b.val("value", DEEP, value.value.as_str()).build(),
    }
}

/// A `Cause`.
pub(in crate::sim::jenkins) fn cause<'t>(p: Pruner<'t>, cause: &Cause) -> Value {
    match cause {
        Cause::User { user_id } => ObjBuilder::new(p, Some("hudson.model.Cause$UserIdCause"))
            .val("shortDescription", DEEP, cause.short_description())
            .val("userId", DEEP, user_id.clone())
            .val(
                "userName",
                DEEP,
                user_id.clone().unwrap_or_else(|| "anonymous".to_string()),
            )
            .build(),
        Cause::Remote { addr, note } => ObjBuilder::new(p, Some("hudson.model.Cause$RemoteCause"))
            .val("shortDescription", DEEP, cause.short_description())
            .val("addr", DEEP, addr.as_str())
            .val("note", DEEP, note.clone())
            .build(),
    }
}

/// `Run.Artifact`s: `displayPath` is the file name unless two artifacts share it.
fn artifacts<'t>(p: Pruner<'t>, build: &Build) -> Value {
    let artifacts = build.artifacts();
    let file_name = |path: &str| path.rsplit('/').next().unwrap_or(path).to_string();
    list(p, artifacts, |p, (path, _)| {
        let name = file_name(path);
        let unique = artifacts
            .iter()
            .filter(|(other, _)| file_name(other) == name)
            .count()
            == 1;
        ObjBuilder::new(p, None)
            .val(
                "displayPath",
                DEEP,
                if unique { name.clone() } else { path.clone() },
            )
            .val("fileName", DEEP, name)
            .val("relativePath", DEEP, path.as_str())
            .build()
    })
}
