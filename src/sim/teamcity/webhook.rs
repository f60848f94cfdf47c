//! Webhooks about builds (reference §10): JetBrains' native TeamCity Webhooks
//! (`{"eventType", "payload": <$long build JSON>}`, `teamcity-webhook-native-*.json`) and
//! the tcWebHooks plugin's legacy `json` format and bundled `elasticsearch` template
//! (`tcwebhooks-*.json`). Payloads are rendered when the transition happens (so a
//! BUILD_INTERRUPTED payload still says `running`) and sent in order by one task.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::build::{Build, Phase, Transition};
use super::node::{self, Fields, Kind, Node, Out};
use super::render::{build_entity, project_and_name};
use super::state::{Shared, State};
use super::WebhookFormat;

const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);
const USER_AGENT: &str = "TeamCity Server 2024.07 (build 160000)";

/// A webhook request waiting to be sent.
#[derive(Debug, Clone)]
pub(super) struct Outgoing {
    pub(super) url: String,
    pub(super) headers: Vec<(&'static str, String)>,
    pub(super) body: String,
}

/// The webhook for `transition` of build `b`, if its type sends any.
pub(super) fn render(
    s: &State,
    b: &Build,
    transition: Transition,
    now: Instant,
) -> Option<Outgoing> {
    let spec = s.types.get(&b.build_type).unwrap_or(&b.plan.spec);
    let url = spec.webhook_url.clone()?;
    let (headers, body) = match spec.webhook_format {
        WebhookFormat::Native => {
            let event = match transition {
                Transition::Started => "BUILD_STARTED",
                Transition::Finished => "BUILD_FINISHED",
                Transition::Interrupted => "BUILD_INTERRUPTED",
                Transition::RemovedFromQueue => "BUILD_REMOVED_FROM_QUEUE",
            };
            let payload = node::select(&build_entity(s, b, now, false), &Fields::long()).ok()?;
            let body = format!(
                "{{\"eventType\":\"{event}\",\"payload\":{}}}",
                payload.to_json()
            );
            (vec![("User-Agent", USER_AGENT.to_string())], body)
        }
        WebhookFormat::TcWebHooksJson => {
            let build = legacy_json(s, b, transition, now);
            let body = obj(vec![("build", Out::Node(build))]).to_json();
            (request_id(), body)
        }
        WebhookFormat::TcWebHooksElasticsearch => {
            (request_id(), elasticsearch(s, b, transition, now).to_json())
        }
    };
    let mut headers = headers;
    headers.push(("Content-Type", "application/json".to_string()));
    Some(Outgoing { url, headers, body })
}

/// Sends webhooks one after another, as long as the simulator lives.
pub(super) async fn send_all(mut outbox: mpsc::UnboundedReceiver<Outgoing>, shared: Arc<Shared>) {
    let client = match reqwest::Client::builder().timeout(WEBHOOK_TIMEOUT).build() {
        Ok(client) => client,
        Err(e) => {
            tracing::warn!(error = %e, "TeamCity simulator cannot send webhooks");
            return;
        }
    };
    while let Some(outgoing) = outbox.recv().await {
        let mut request = client.post(&outgoing.url).body(outgoing.body);
        for (name, value) in &outgoing.headers {
            request = request.header(*name, value);
        }
        let delivered = request.send().await.is_ok();
        let mut state = shared.lock();
        if delivered {
            state.stats.webhooks_sent += 1;
        } else {
            state.stats.webhooks_failed += 1;
        }
    }
}

fn request_id() -> Vec<(&'static str, String)> {
    vec![("X-tcwebhooks-request-id", uuid::Uuid::new_v4().to_string())]
}

fn obj(fields: Vec<(&'static str, Out)>) -> Node {
    Node {
        fields: fields
            .into_iter()
            .map(|(name, out)| (name, Kind::Attr, out))
            .collect(),
    }
}

fn text(value: impl Into<String>) -> Out {
    Out::Str(value.into())
}

/// tcWebHooks' `buildResult` of a build: success, failure, running or interrupted.
fn result(b: &Build) -> &'static str {
    if b.canceled.is_some() {
        return "interrupted";
    }
    match (b.phase, b.status.as_deref()) {
        (Phase::Finished, Some("SUCCESS")) => "success",
        (Phase::Finished, _) => "failure",
        _ => "running",
    }
}

/// (previous result, delta, derived event type) against the previous finished build.
fn history(
    s: &State,
    b: &Build,
    transition: Transition,
) -> (&'static str, &'static str, &'static str) {
    let previous = s
        .previous_finished(&b.build_type, b.id)
        .map(result)
        .unwrap_or("unknown");
    let current = result(b);
    let delta = match (transition, previous, current) {
        (Transition::Finished, "unknown", _) => "unknown",
        (Transition::Finished, p, c) if p == c => "unchanged",
        (Transition::Finished, "failure", "success") => "fixed",
        (Transition::Finished, "success", "failure") => "broken",
        _ => "unknown",
    };
    let derived = match (transition, delta, current) {
        (Transition::Finished, "fixed", _) => "BUILD_FIXED",
        (Transition::Finished, "broken", _) => "BUILD_BROKEN",
        (Transition::Finished, _, "success") => "BUILD_SUCCESSFUL",
        (Transition::Finished, _, _) => "BUILD_FAILED",
        _ => event_type(transition),
    };
    (previous, delta, derived)
}

fn event_type(transition: Transition) -> &'static str {
    match transition {
        Transition::Started => "BUILD_STARTED",
        Transition::Finished => "BUILD_FINISHED",
        Transition::Interrupted => "BUILD_INTERRUPTED",
        Transition::RemovedFromQueue => "BUILD_REMOVED_FROM_QUEUE",
    }
}

fn notify_type(transition: Transition) -> &'static str {
    match transition {
        Transition::Started => "buildStarted",
        Transition::Finished => "buildFinished",
        Transition::Interrupted => "buildInterrupted",
        Transition::RemovedFromQueue => "buildRemovedFromQueue",
    }
}

/// The JVM's default `SimpleDateFormat()` in an English locale: `8/20/24, 8:00 AM`.
fn jvm_date(at: DateTime<Utc>) -> String {
    at.format("%-m/%-d/%y, %-I:%M %p").to_string()
}

fn iso(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn legacy_json(s: &State, b: &Build, transition: Transition, now: Instant) -> Node {
    let (project, name) = project_and_name(&b.build_type);
    let full = format!("{project} :: {name}");
    let root = format!("{}/", s.base_url);
    let (previous, delta, derived) = history(s, b, transition);
    let result = result(b);
    let by = b
        .triggered_by
        .as_ref()
        .map_or_else(|| "REST API".to_string(), |u| u.name.clone());
    let number = b.number.clone().unwrap_or_default();
    let (verb, state) = match transition {
        Transition::Started => ("started", "started"),
        Transition::Finished => ("finished", "finished"),
        Transition::Interrupted => ("been interrupted", "interrupted"),
        Transition::RemovedFromQueue => ("been removed from the queue", "removed from queue"),
    };
    let type_index = s.types.keys().position(|k| *k == b.build_type).unwrap_or(0) + 1;
    let mut fields = vec![
        (
            "buildStatus",
            text(b.status_text.clone().unwrap_or_default()),
        ),
        ("buildResult", text(result)),
        ("buildResultPrevious", text(previous)),
        ("buildResultDelta", text(delta)),
        ("notifyType", text(notify_type(transition))),
        ("buildFullName", text(full.clone())),
        ("buildName", text(name)),
        ("buildId", text(b.id.to_string())),
        ("buildTypeId", text(b.build_type.clone())),
        ("buildInternalTypeId", text(format!("bt{type_index}"))),
        ("buildExternalTypeId", text(b.build_type.clone())),
        (
            "buildStatusUrl",
            text(format!(
                "{root}viewLog.html?buildTypeId={}&buildId={}",
                b.build_type, b.id
            )),
        ),
        (
            "buildStatusSakuraUrl",
            text(format!(
                "{root}buildConfiguration/{}/{}",
                b.build_type, b.id
            )),
        ),
    ];
    if let Some(started) = b.started_at {
        fields.push(("buildStartTime", text(jvm_date(s.wall(started)))));
    }
    fields.push(("currentTime", text(jvm_date(s.wall(now)))));
    if let (Some(finished), Phase::Finished) = (b.finished_at, b.phase) {
        fields.push(("buildFinishTime", text(jvm_date(s.wall(finished)))));
    }
    fields.extend([
        ("rootUrl", text(root.clone())),
        ("projectName", text(project.clone())),
        ("projectId", text(project.clone())),
        ("projectInternalId", text("project1")),
        ("projectExternalId", text(project)),
        ("buildNumber", text(number.clone())),
        ("agentName", text("sim-agent-1")),
        ("agentOs", text("Linux")),
        ("agentHostname", text("127.0.0.1")),
        ("triggeredBy", text(by.clone())),
        (
            "message",
            text(format!(
                "Build {full} has {verb}. This is build number {number}, has a status of \"{result}\" and was triggered by {by}"
            )),
        ),
        ("text", text(format!("{full} has {verb}. Status: {result}"))),
    ]);
    if let Some(branch) = &b.branch {
        fields.push(("branchName", text(branch.clone())));
        fields.push(("branchDisplayName", text(branch.clone())));
    }
    fields.push(("buildStateDescription", text(state)));
    if b.branch.is_some() {
        fields.push(("branchIsDefault", Out::Bool(b.default_branch)));
    }
    fields.extend([
        ("buildIsPersonal", Out::Bool(false)),
        ("buildEventType", text(event_type(transition))),
        ("derivedBuildEventType", text(derived)),
        ("maxChangeFileListSize", Out::Int(100)),
        ("maxChangeFileListCountExceeded", Out::Bool(false)),
        ("changeFileListCount", Out::Int(0)),
    ]);
    obj(fields)
}

fn elasticsearch(s: &State, b: &Build, transition: Transition, now: Instant) -> Node {
    let (_, name) = project_and_name(&b.build_type);
    let (previous, delta, _) = history(s, b, transition);
    let branch = b.branch.clone().unwrap_or_default();
    let mut fields = vec![
        ("branch_name", text(branch.clone())),
        ("branch_display_name", text(branch)),
        (
            "branch_is_default",
            text((b.branch.is_none() || b.default_branch).to_string()),
        ),
    ];
    if let Some(started) = b.started_at {
        fields.push(("build_start_time", text(iso(s.wall(started)))));
    }
    fields.push(("timestamp", text(iso(s.wall(now)))));
    if let (Some(finished), Phase::Finished) = (b.finished_at, b.phase) {
        fields.push(("build_finish_time", text(iso(s.wall(finished)))));
    }
    let by = b
        .triggered_by
        .as_ref()
        .map_or_else(|| "REST API".to_string(), |u| u.name.clone());
    fields.extend([
        ("build_event", text(notify_type(transition))),
        ("build_name", text(name)),
        (
            "build_status_url",
            text(format!(
                "{}/viewLog.html?buildTypeId={}&buildId={}",
                s.base_url, b.build_type, b.id
            )),
        ),
        ("build_number", text(b.number.clone().unwrap_or_default())),
        ("triggered_by", text(by)),
        ("build_result", text(result(b))),
        ("build_result_previous", text(previous)),
        ("build_result_delta", text(delta)),
    ]);
    obj(fields)
}
