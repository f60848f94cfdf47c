//! Builds and their neighbours as the REST plugin's beans ([`Entity`]), field for field
//! and in `propOrder` as `model/build/Build.java` writes them (reference §5.2 and the
//! `teamcity-build-*` samples), plus the [`BuildView`] tests read.

use std::collections::BTreeMap;

use tokio::time::Instant;

use super::build::{Build, Phase, User};
use super::node::{Entity, Kind, Value};
use super::state::State;
use super::{BuildView, CanceledInfo};

/// The one agent every build runs on; builds that never ran show TeamCity's `N/A` agent.
const AGENT: (i64, &str) = (1, "sim-agent-1");

/// A build's public view for tests.
pub(super) fn view(b: &Build) -> BuildView {
    BuildView {
        id: b.id,
        number: b.number.clone(),
        build_type: b.build_type.clone(),
        state: b.phase.as_str().to_string(),
        status: b.status.clone(),
        status_text: b.status_text.clone(),
        branch: b.branch.clone(),
        properties: b.properties.clone(),
        comment: b.comment.as_ref().map(|c| c.text.clone()),
        triggered_by: b.triggered_by.as_ref().map(|u| u.username.clone()),
        canceled_info: b.canceled.as_ref().map(|c| CanceledInfo {
            user: c.user.as_ref().map(|u| u.username.clone()),
            text: c.text.clone(),
        }),
        failed_to_start: b.failed_to_start,
        removed_from_queue: b.removed_from_queue,
        queued_at: b.queued_at,
        finished_at: b.finished_at,
        last_read_at: b.last_read_at,
    }
}

/// `Backend_Deploy` → (`Backend`, `Deploy`); ids without `_` live in project `Sim`.
pub(super) fn project_and_name(build_type: &str) -> (String, String) {
    match build_type.split_once('_') {
        Some((project, name)) if !project.is_empty() && !name.is_empty() => {
            (project.to_string(), name.to_string())
        }
        _ => ("Sim".to_string(), build_type.to_string()),
    }
}

pub(super) fn build_type_entity(s: &State, id: &str) -> Entity {
    let (project, name) = project_and_name(id);
    Entity::new()
        .attr("id", str(id))
        .attr("name", str(&name))
        .attr("projectName", str(&project))
        .attr("projectId", str(&project))
        .attr("href", str(&format!("/app/rest/buildTypes/id:{id}")))
        .attr(
            "webUrl",
            str(&format!(
                "{}/buildConfiguration/{id}?mode=builds",
                s.base_url
            )),
        )
}

pub(super) fn user_entity(user: &User) -> Entity {
    Entity::new()
        .attr("username", str(&user.username))
        .attr("name", str(&user.name))
        .attr("id", Value::Int(user.id))
        .attr("href", str(&format!("/app/rest/users/id:{}", user.id)))
}

/// A `Comment` bean: comments, `canceledInfo`, `pinInfo`.
fn comment_entity(s: &State, user: Option<&User>, at: Instant, text: Option<&str>) -> Entity {
    let mut entity = Entity::new();
    if let Some(user) = user {
        entity = entity.elem("user", Value::Entity(user_entity(user)));
    }
    entity = entity.elem("timestamp", str(&s.date(at)));
    if let Some(text) = text {
        entity = entity.elem("text", str(text));
    }
    entity
}

/// The `canceledInfo` comment of a canceled build (also `…/{locator}/canceledInfo`).
pub(super) fn canceled_info_entity(s: &State, b: &Build) -> Option<Entity> {
    let canceled = b.canceled.as_ref()?;
    Some(comment_entity(
        s,
        canceled.user.as_ref(),
        canceled.at,
        canceled.text.as_deref(),
    ))
}

fn href(href: String) -> Entity {
    Entity::new().attr("href", Value::Str(href))
}

fn str(text: &str) -> Value {
    Value::Str(text.to_string())
}

/// An element shown in the long form unless it has a default value (`isIncluded(x, false)`).
fn long_elem(entity: Entity, name: &'static str, value: Value) -> Entity {
    entity.field(name, Kind::Elem, value, Some(false), None, false)
}

/// The build bean (`$long` when selected with default fields). `just_queued` leaves out
/// `waitReason`, as the trigger's answer does.
pub(super) fn build_entity(s: &State, b: &Build, now: Instant, just_queued: bool) -> Entity {
    let id = b.id;
    let queued = b.phase == Phase::Queued;
    let (href_path, web_url) = if queued {
        (
            format!("/app/rest/buildQueue/id:{id}"),
            format!("{}/viewQueued.html?itemId={id}", s.base_url),
        )
    } else {
        (
            format!("/app/rest/builds/id:{id}"),
            format!("{}/buildConfiguration/{}/{id}", s.base_url, b.build_type),
        )
    };
    let percent = b.percent(now);
    let mut e = Entity::new()
        .attr("id", Value::Int(id as i64))
        .attr("buildTypeId", str(&b.build_type));
    if let Some(number) = &b.number {
        e = e.attr("number", str(number));
    }
    if let Some(status) = &b.status {
        e = e.attr("status", str(status));
    }
    e = e
        .attr("state", str(b.phase.as_str()))
        .field(
            "running",
            Kind::Attr,
            Value::Bool(b.phase == Phase::Running),
            Some(false),
            Some(false),
            false,
        )
        .attr_opt("composite", Value::Bool(false), true)
        .attr_opt(
            "failedToStart",
            Value::Bool(b.failed_to_start),
            !b.failed_to_start,
        )
        .attr_opt("personal", Value::Bool(false), true);
    if let Some(percent) = percent {
        e = e.attr_opt("percentageComplete", Value::Int(percent), percent == 0);
    }
    if let Some(branch) = &b.branch {
        e = e.attr_opt("branchName", str(branch), false).attr_opt(
            "defaultBranch",
            Value::Bool(b.default_branch),
            !b.default_branch,
        );
    }
    e = e
        .attr_opt("history", Value::Bool(false), true)
        .attr_opt("pinned", Value::Bool(false), true)
        .attr("href", Value::Str(href_path))
        .attr("webUrl", Value::Str(web_url));
    if queued {
        let position = queue_position(s, b);
        e = e.field(
            "queuePosition",
            Kind::Attr,
            Value::Int(position),
            Some(false),
            Some(false),
            false,
        );
    }
    if let Some(text) = &b.status_text {
        e = e.field(
            "statusText",
            Kind::Elem,
            str(text),
            Some(false),
            Some(true),
            false,
        );
    }
    e = long_elem(
        e,
        "buildType",
        Value::Entity(build_type_entity(s, &b.build_type)),
    );
    if let Some(comment) = &b.comment {
        let entity = comment_entity(s, comment.user.as_ref(), comment.at, Some(&comment.text));
        e = long_elem(e, "comment", Value::Entity(entity)).nested_long();
    }
    if queued && !just_queued {
        e = long_elem(e, "waitReason", str(wait_reason(b)));
    }
    if b.phase == Phase::Running {
        e = long_elem(e, "running-info", Value::Entity(running_info(b, now)));
    }
    if let Some(entity) = canceled_info_entity(s, b) {
        e = long_elem(e, "canceledInfo", Value::Entity(entity)).nested_long();
    }
    e = long_elem(e, "queuedDate", str(&s.date(b.queued_at)));
    if let Some(started) = b.started_at {
        e = long_elem(e, "startDate", str(&s.date(started)));
    }
    if let (Some(finished), Phase::Finished) = (b.finished_at, b.phase) {
        e = long_elem(e, "finishDate", str(&s.date(finished)));
    }
    // A long build renders `triggered` long, so its user appears in full.
    e = long_elem(e, "triggered", Value::Entity(triggered(s, b))).nested_long();
    let changes = href(format!("/app/rest/changes?locator=build:(id:{id})"));
    let changes = if b.phase == Phase::Finished && b.ran() {
        Entity::new().attr("count", Value::Int(0)).attr(
            "href",
            str(&format!("/app/rest/changes?locator=build:(id:{id})")),
        )
    } else {
        changes
    };
    e = long_elem(e, "changes", Value::Entity(changes));
    if let Some(revisions) = revisions(b) {
        e = long_elem(e, "revisions", Value::Entity(revisions));
    }
    if !queued {
        e = long_elem(e, "agent", Value::Entity(agent(s, b)));
    } else {
        let compatible = href(format!(
            "/app/rest/agents?locator=compatible:(build:(id:{id}))"
        ));
        e = long_elem(e, "compatibleAgents", Value::Entity(compatible));
    }
    if let (Some(tests), Phase::Finished) = (b.plan.spec.tests.filter(|_| b.ran()), b.phase) {
        e = long_elem(e, "testOccurrences", Value::Entity(test_summary(id, tests)));
    }
    if b.phase == Phase::Finished
        && b.ran()
        && matches!(b.status.as_deref(), Some("FAILURE" | "ERROR"))
        && b.canceled.is_none()
    {
        let problems = Entity::new()
            .attr("count", Value::Int(1))
            .attr(
                "href",
                str(&format!(
                    "/app/rest/problemOccurrences?locator=build:(id:{id})"
                )),
            )
            .attr_opt("newFailed", Value::Int(1), false);
        e = long_elem(e, "problemOccurrences", Value::Entity(problems));
    }
    let artifacts_href = format!("/app/rest/builds/id:{id}/artifacts/children/");
    let artifacts = if b.phase == Phase::Finished && b.ran() {
        let count = super::files::top_level_count(b);
        Entity::new()
            .attr("count", Value::Int(count as i64))
            .attr("href", Value::Str(artifacts_href))
    } else {
        href(artifacts_href)
    };
    e = long_elem(e, "artifacts", Value::Entity(artifacts));
    if !queued {
        e = long_elem(
            e,
            "relatedIssues",
            Value::Entity(href(format!("/app/rest/builds/id:{id}/relatedIssues"))),
        );
    }
    let properties = properties_entity(&b.properties, None);
    e = e
        .field(
            "properties",
            Kind::Elem,
            Value::Entity(properties),
            Some(false),
            None,
            b.properties.is_empty(),
        )
        .nested_long();
    let resulting = properties_entity(
        &b.resulting_properties(),
        Some(format!("/app/rest/builds/id:{id}/resulting-properties")),
    );
    e = e
        .field(
            "resultingProperties",
            Kind::Elem,
            Value::Entity(resulting),
            Some(false),
            Some(false),
            false,
        )
        .nested_long();
    if !queued {
        e = long_elem(
            e,
            "statistics",
            Value::Entity(href(format!("/app/rest/builds/id:{id}/statistics"))),
        );
    }
    e = e.field(
        "vcsLabels",
        Kind::Elem,
        Value::List(Vec::new()),
        Some(false),
        Some(true),
        false,
    );
    if let (Some(finished), true) = (b.finished_at, b.phase == Phase::Finished && b.ran()) {
        e = long_elem(e, "finishOnAgentDate", str(&s.date(finished)));
    }
    let customized = !b.properties.is_empty();
    e.attr_opt("customized", Value::Bool(customized), !customized)
}

fn queue_position(s: &State, b: &Build) -> i64 {
    let ahead = s
        .builds
        .values()
        .filter(|o| o.phase == Phase::Queued && o.id < b.id)
        .count();
    ahead as i64 + 1
}

fn wait_reason(b: &Build) -> &'static str {
    if b.plan.spec.stay_queued {
        "There are no idle compatible agents which can run this build"
    } else {
        "Build is waiting for a free agent"
    }
}

fn running_info(b: &Build, now: Instant) -> Entity {
    let started = b.started_at.unwrap_or(b.queued_at);
    let elapsed = now.saturating_duration_since(started).as_secs() as i64;
    let mut info = Entity::new();
    let estimate = (!b.plan.spec.hold).then_some(b.plan.duration.as_secs() as i64);
    if let (Some(percent), Some(_)) = (b.percent(now), estimate) {
        info = info.attr("percentageComplete", Value::Int(percent));
    }
    info = info.attr("elapsedSeconds", Value::Int(elapsed));
    if let Some(estimate) = estimate {
        info = info.attr("estimatedTotalSeconds", Value::Int(estimate));
    }
    let stage = if b.canceled.is_some() {
        "Build was interrupted. Artifacts will not be published for this build"
    } else {
        "Running"
    };
    info.attr("currentStageText", str(stage))
        .attr("outdated", Value::Bool(false))
        .attr("probablyHanging", Value::Bool(false))
}

fn triggered(s: &State, b: &Build) -> Entity {
    let kind = if b.triggered_by.is_some() {
        "user"
    } else {
        "request"
    };
    let mut entity = Entity::new()
        .attr("type", str(kind))
        .attr("date", str(&s.date(b.queued_at)));
    if let Some(user) = &b.triggered_by {
        entity = entity.elem("user", Value::Entity(user_entity(user)));
    }
    entity
}

/// The VCS revision, when the build type reports `build.vcs.number` and the build ran.
fn revisions(b: &Build) -> Option<Entity> {
    if !b.ran() {
        return None;
    }
    let (_, version) = b
        .plan
        .spec
        .resulting_properties
        .iter()
        .find(|(name, _)| name == "build.vcs.number")?;
    let branch = b
        .branch
        .clone()
        .or_else(|| b.plan.spec.default_branch.clone())
        .unwrap_or_else(|| "main".into());
    let root = format!("{}_Vcs", project_and_name(&b.build_type).0);
    let instance = Entity::new()
        .attr("id", str("1"))
        .attr("vcs-root-id", str(&root))
        .attr("name", str(&root.to_lowercase()))
        .attr("href", str("/app/rest/vcs-root-instances/id:1"));
    let revision = Entity::new()
        .attr("version", str(version))
        .attr("vcsBranchName", str(&format!("refs/heads/{branch}")))
        .elem("vcs-root-instance", Value::Entity(instance));
    Some(Entity::new().attr("count", Value::Int(1)).field(
        "revision",
        Kind::Elem,
        Value::List(vec![revision]),
        Some(true),
        Some(true),
        false,
    ))
}

fn agent(s: &State, b: &Build) -> Entity {
    if !b.ran() {
        return Entity::new()
            .attr("id", Value::Int(-1))
            .attr("name", str("N/A"))
            .attr("typeId", Value::Int(0))
            .attr("href", str("/app/rest/agents/id:-1"));
    }
    let (id, name) = AGENT;
    Entity::new()
        .attr("id", Value::Int(id))
        .attr("name", str(name))
        .attr("typeId", Value::Int(id))
        .attr("href", str(&format!("/app/rest/agents/id:{id}")))
        .attr(
            "webUrl",
            str(&format!(
                "{}/agentDetails.html?id={id}&agentTypeId={id}&realAgentName={name}",
                s.base_url
            )),
        )
}

fn test_summary(id: u64, tests: super::TestCounts) -> Entity {
    let count = tests.passed + tests.failed + tests.ignored;
    Entity::new()
        .attr("count", Value::Int(i64::from(count)))
        .attr(
            "href",
            str(&format!(
                "/app/rest/testOccurrences?locator=build:(id:{id})"
            )),
        )
        .attr_opt(
            "ignored",
            Value::Int(i64::from(tests.ignored)),
            tests.ignored == 0,
        )
        .attr_opt(
            "failed",
            Value::Int(i64::from(tests.failed)),
            tests.failed == 0,
        )
        .attr_opt(
            "passed",
            Value::Int(i64::from(tests.passed)),
            tests.passed == 0,
        )
        .attr_opt(
            "newFailed",
            Value::Int(i64::from(tests.failed)),
            tests.failed == 0,
        )
}

/// A `properties` bean: `count`, optional `href`, the `property` list.
pub(super) fn properties_entity(
    properties: &BTreeMap<String, String>,
    href: Option<String>,
) -> Entity {
    let items = properties
        .iter()
        .map(|(name, value)| {
            Entity::new()
                .attr("name", str(name))
                .attr("value", str(value))
        })
        .collect();
    let mut entity = Entity::new().attr("count", Value::Int(properties.len() as i64));
    if let Some(href) = href {
        entity = entity.attr("href", Value::Str(href));
    }
    entity.field(
        "property",
        Kind::Elem,
        Value::List(items),
        Some(true),
        Some(true),
        false,
    )
}

/// A `builds` list bean.
pub(super) fn builds_entity(items: Vec<Entity>, href: String, next_href: Option<String>) -> Entity {
    let mut entity = Entity::new()
        .attr("count", Value::Int(items.len() as i64))
        .attr("href", Value::Str(href));
    if let Some(next) = next_href {
        entity = entity.attr_opt("nextHref", Value::Str(next), false);
    }
    entity.field(
        "build",
        Kind::Elem,
        Value::List(items),
        Some(false),
        Some(true),
        false,
    )
}

/// `/app/rest/server`.
pub(super) fn server_entity(s: &State, now: Instant) -> Entity {
    Entity::new()
        .attr("version", str("2024.07 (build 160000)"))
        .attr("versionMajor", Value::Int(2024))
        .attr("versionMinor", Value::Int(7))
        .attr("startTime", str(&s.date(s.started)))
        .attr("currentTime", str(&s.date(now)))
        .attr("buildNumber", str("160000"))
        .attr("buildDate", str("20240701T000000+0000"))
        .attr("internalId", str("00000000-0000-0000-0000-00000000baton"))
        .attr("role", str("main_node"))
        .attr("webUrl", str(&s.base_url))
        .elem("projects", Value::Entity(href("/app/rest/projects".into())))
        .elem(
            "vcsRoots",
            Value::Entity(href("/app/rest/vcs-roots".into())),
        )
        .elem("builds", Value::Entity(href("/app/rest/builds".into())))
        .elem("users", Value::Entity(href("/app/rest/users".into())))
        .elem(
            "userGroups",
            Value::Entity(href("/app/rest/userGroups".into())),
        )
        .elem("agents", Value::Entity(href("/app/rest/agents".into())))
        .elem(
            "buildQueue",
            Value::Entity(href("/app/rest/buildQueue".into())),
        )
        .elem(
            "agentPools",
            Value::Entity(href("/app/rest/agentPools".into())),
        )
        .elem(
            "investigations",
            Value::Entity(href("/app/rest/investigations".into())),
        )
        .elem("mutes", Value::Entity(href("/app/rest/mutes".into())))
        .elem(
            "nodes",
            Value::Entity(href("/app/rest/server/nodes".into())),
        )
}
