//! Jobs (`WorkflowJob`, `FreeStyleProject`) and folders (`Folder`, multibranch projects)
//! as `…/api/json` exports them, after `samples/jenkins-job-parameterized.json`.

use super::super::builds::Build;
use super::super::export::{
    class_only, list, ObjBuilder, Pruner, Value, ALWAYS, DEEP, NESTED, TOP,
};
use super::super::jobs::{item_url, Folder, Job, Node};
use super::super::spec::{JobKind, ParamKind, ParamSpec};
use super::{queue, run_ref, Ctx};

/// The permalinks after `lastBuild`, in Stapler's (alphabetical) order.
const PERMALINKS: [&str; 6] = [
    "lastCompletedBuild",
    "lastFailedBuild",
    "lastStableBuild",
    "lastSuccessfulBuild",
    "lastUnstableBuild",
    "lastUnsuccessfulBuild",
];

/// A job's JSON object.
pub(in crate::sim::jenkins) fn job<'t>(ctx: Ctx<'_>, p: Pruner<'t>, index: usize) -> Value {
    let world = ctx.world;
    let job = &world.jobs[index];
    let newest_first: Vec<u32> = job.builds.iter().rev().map(|b| b.number).collect();
    let run = |p: Pruner<'_>, number: Option<u32>| {
        number.map_or(Value::Null, |n| run_ref(ctx, p, index, n, true))
    };
    let queue_item = world.queue_item_of(index);
    let display_name_or_null =
        (job.display_name() != job.name()).then(|| job.display_name().to_string());
    let b = ObjBuilder::new(p, Some(job.class()))
        .obj("actions", TOP, |p| {
            list(p, 0..3, |_, _| super::super::export::opaque())
        })
        .val("description", TOP, "")
        .val("displayName", TOP, job.display_name())
        .val("displayNameOrNull", TOP, display_name_or_null)
        .val("fullDisplayName", TOP, job.full_display_name())
        .val("fullName", TOP, job.full_name())
        .val("name", ALWAYS, job.name())
        .val("url", ALWAYS, ctx.abs(&job.url()))
        .obj("allBuilds", -2, |p| {
            list(p, newest_first.iter(), |p, n| run(p, Some(*n)))
        })
        .val("buildable", TOP, !job.spec.disabled)
        .obj("builds", TOP, |p| {
            list(p, newest_first.iter().take(100), |p, n| run(p, Some(*n)))
        })
        .val("color", NESTED, color(job))
        .obj("firstBuild", TOP, |p| {
            run(p, job.builds.first().map(|b| b.number))
        })
        .obj("healthReport", TOP, |p| health_report(p, job))
        .val("inQueue", TOP, queue_item.is_some())
        .val("keepDependencies", TOP, false)
        .obj("lastBuild", TOP, |p| run(p, newest_first.first().copied()));
    let b = PERMALINKS.iter().fold(b, |b, name| {
        b.obj(name, TOP, |p| run(p, job.permalink(name)))
    });
    let b = b
        .val("nextBuildNumber", TOP, job.next_number)
        .inline("property", TOP, |p| properties(p, job))
        .obj("queueItem", TOP, |p| {
            queue_item.map_or(Value::Null, |item| queue::item(ctx, p, item))
        })
        .val("concurrentBuild", TOP, job.spec.concurrent_build);
    match job.spec.kind {
        JobKind::Pipeline => b.val("resumeBlocked", TOP, false).build(),
        JobKind::FreeStyle => b
            .val("disabled", TOP, job.spec.disabled)
            .val("downstreamProjects", TOP, Value::Arr(Vec::new()))
            .val("labelExpression", TOP, Value::Null)
            .obj("scm", TOP, |p| {
                ObjBuilder::new(p, Some("hudson.scm.NullSCM")).build()
            })
            .val("upstreamProjects", TOP, Value::Arr(Vec::new()))
            .build(),
    }
}

/// `BallColor` of the last completed build, `_anime` while one is running.
pub(in crate::sim::jenkins) fn color(job: &Job) -> String {
    if job.spec.disabled {
        return "disabled".to_string();
    }
    let base = match job.builds.iter().rev().find_map(|b| b.end.as_ref()) {
        None => "notbuilt",
        Some(end) => match end.result.as_str() {
            "SUCCESS" => "blue",
            "UNSTABLE" => "yellow",
            "FAILURE" => "red",
            "ABORTED" => "aborted",
            _ => "notbuilt",
        },
    };
    if job.builds.iter().any(Build::building) {
        format!("{base}_anime")
    } else {
        base.to_string()
    }
}

/// "Build stability": failures among the last five completed builds.
fn health_report<'t>(p: Pruner<'t>, job: &Job) -> Value {
    let recent: Vec<&Build> = job
        .builds
        .iter()
        .rev()
        .filter(|b| !b.building())
        .take(5)
        .collect();
    if recent.is_empty() {
        return Value::Arr(Vec::new());
    }
    let failed = recent.iter().filter(|b| b.ended_with(&["FAILURE"])).count();
    let total = recent.len();
    let score = 100 - failed * 100 / total;
    let text = if failed == 0 {
        "No recent builds failed.".to_string()
    } else if failed == total {
        "All recent builds failed.".to_string()
    } else {
        format!("{failed} out of the last {total} builds failed.")
    };
    let icon = match score {
        81.. => "health-80plus",
        60..=80 => "health-60to79",
        40..=59 => "health-40to59",
        20..=39 => "health-20to39",
        _ => "health-00to19",
    };
    list(p, [()], |p, ()| {
        ObjBuilder::new(p, None)
            .val("description", NESTED, format!("Build stability: {text}"))
            .val("iconClassName", NESTED, icon)
            .val("iconUrl", NESTED, format!("{icon}.png"))
            .val("score", NESTED, score as u64)
            .build()
    })
}

fn properties<'t>(p: Pruner<'t>, job: &Job) -> Value {
    let mut properties: Vec<Option<&[ParamSpec]>> = Vec::new();
    if job.spec.kind == JobKind::Pipeline && !job.spec.concurrent_build {
        properties.push(None);
    }
    if job.spec.parameterized() {
        properties.push(Some(&job.spec.parameters));
    }
    list(p, properties, |p, property| match property {
        None => class_only(
            "org.jenkinsci.plugins.workflow.job.properties.DisableConcurrentBuildsJobProperty",
        ),
        Some(parameters) => ObjBuilder::new(p, Some("hudson.model.ParametersDefinitionProperty"))
            .obj("parameterDefinitions", NESTED, |p| {
                list(p, parameters, definition)
            })
            .build(),
    })
}

fn definition<'t>(p: Pruner<'t>, spec: &ParamSpec) -> Value {
    let (class, value_class) = match spec.kind {
        ParamKind::String => (
            "StringParameterDefinition",
            "hudson.model.StringParameterValue",
        ),
        ParamKind::Text => ("TextParameterDefinition", "hudson.model.TextParameterValue"),
        ParamKind::Boolean => (
            "BooleanParameterDefinition",
            "hudson.model.BooleanParameterValue",
        ),
        ParamKind::Choice(_) => (
            "ChoiceParameterDefinition",
            "hudson.model.StringParameterValue",
        ),
        ParamKind::Password => (
            "PasswordParameterDefinition",
            "hudson.model.PasswordParameterValue",
        ),
    };
    let full_class = match spec.kind {
        ParamKind::String => "hudson.model.StringParameterDefinition",
        ParamKind::Text => "hudson.model.TextParameterDefinition",
        ParamKind::Boolean => "hudson.model.BooleanParameterDefinition",
        ParamKind::Choice(_) => "hudson.model.ChoiceParameterDefinition",
        ParamKind::Password => "hudson.model.PasswordParameterDefinition",
    };
    let default = spec.default_value();
    let b = ObjBuilder::new(p, Some(full_class))
        .obj("defaultParameterValue", DEEP, |p| {
            let b = ObjBuilder::new(p, Some(value_class)).val("name", DEEP, spec.name.as_str());
            match spec.kind {
                ParamKind::Password => b.build(),
                ParamKind::Boolean => b
                    .val("value", DEEP, default.eq_ignore_ascii_case("true"))
                    .build(),
                _ => b.val("value", DEEP, default.as_str()).build(),
            }
        })
        .val("description", DEEP, spec.description.as_str())
        .val("name", DEEP, spec.name.as_str())
        .val("type", DEEP, class);
    match &spec.kind {
        ParamKind::Choice(choices) => b
            .val(
                "choices",
                DEEP,
                Value::Arr(choices.iter().map(|c| Value::from(c.as_str())).collect()),
            )
            .build(),
        _ => b.build(),
    }
}

/// A folder's (or multibranch project's) JSON object; its `jobs` are rendered in full and
/// pruned, so the default depth shows `{_class, name, url, color}`.
pub(in crate::sim::jenkins) fn folder<'t>(ctx: Ctx<'_>, p: Pruner<'t>, folder: &Folder) -> Value {
    let name = folder.names.last().cloned().unwrap_or_default();
    let url = ctx.abs(&item_url(&folder.names));
    ObjBuilder::new(p, Some(folder.class()))
        .obj("actions", TOP, |p| {
            list(p, 0..2, |_, _| super::super::export::opaque())
        })
        .val("description", TOP, Value::Null)
        .val("displayName", TOP, name.as_str())
        .val("displayNameOrNull", TOP, Value::Null)
        .val("fullDisplayName", TOP, folder.names.join(" » "))
        .val("fullName", TOP, folder.names.join("/"))
        .val("name", ALWAYS, name.as_str())
        .val("url", ALWAYS, url.as_str())
        .val("healthReport", TOP, Value::Arr(Vec::new()))
        .obj("jobs", TOP, |p| children(ctx, p, folder))
        .obj("primaryView", TOP, |p| all_view(p, &url))
        .obj("views", TOP, |p| list(p, [()], |p, ()| all_view(p, &url)))
        .build()
}

/// The items of a folder (or of the root), sorted by name.
pub(in crate::sim::jenkins) fn children<'t>(ctx: Ctx<'_>, p: Pruner<'t>, folder: &Folder) -> Value {
    list(p, folder.children.values(), |p, node| match node {
        Node::Folder(f) => self::folder(ctx, p, f),
        Node::Job(index) => job(ctx, p, *index),
    })
}

/// The "All" view of a folder or of the root.
pub(in crate::sim::jenkins) fn all_view<'t>(p: Pruner<'t>, url: &str) -> Value {
    ObjBuilder::new(p, Some("hudson.model.AllView"))
        .val("name", ALWAYS, "all")
        .val("url", ALWAYS, url)
        .build()
}
