//! The Notification plugin (tikal `notification-plugin`): for a job with an endpoint,
//! QUEUED and STARTED are POSTed back to back when a build starts, COMPLETED and
//! FINALIZED when it ends; nothing for items cancelled in the queue. Bodies follow
//! `samples/jenkins-notification-*.json` (Gson, lower-case-with-underscores, nulls
//! omitted). Delivery is fire-and-forget, in order, one POST at a time, and waits while
//! the simulator is down (a stopped Jenkins sends nothing).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::Instant;

use super::export::{to_json, Obj, Value};
use super::jobs::build_url;
use super::shared::Shared;
use super::world::World;

/// The plugin's default connect and read timeout.
const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    Queued,
    Started,
    Completed,
    Finalized,
}

impl Phase {
    fn as_str(self) -> &'static str {
        match self {
            Phase::Queued => "QUEUED",
            Phase::Started => "STARTED",
            Phase::Completed => "COMPLETED",
            Phase::Finalized => "FINALIZED",
        }
    }
}

/// A POST to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Notice {
    pub(super) url: String,
    pub(super) body: String,
}

/// The JSON body for one phase of a build, `None` if the build does not exist.
pub(super) fn payload(
    world: &World,
    job: usize,
    number: u32,
    phase: Phase,
    at: Instant,
) -> Option<String> {
    let job_ref = &world.jobs[job];
    let build = job_ref.build(number)?;
    let url = build_url(&job_ref.names, number);
    let timestamp = match phase {
        Phase::Queued => world.clock.ms(build.enqueued_at),
        Phase::Started => world.clock.ms(build.started_at),
        Phase::Completed => world.clock.ms(build.started_at + build.duration()),
        Phase::Finalized => world.clock.ms(at),
    };
    let mut fields = vec![
        field("full_url", format!("{}{url}", world.root_url)),
        field("number", number),
        field("queue_id", build.queue_id),
        field("timestamp", timestamp),
        field("duration", super::clock::millis(build.duration())),
        field("phase", phase.as_str()),
    ];
    if let Some(status) = build.result(at) {
        fields.push(field("status", status));
    }
    fields.push(field("url", url.clone()));
    fields.push((
        "scm".into(),
        object(vec![
            ("changes".into(), Value::Arr(Vec::new())),
            ("culprits".into(), Value::Arr(Vec::new())),
        ]),
    ));
    if let Some(params) = &build.params {
        let values = params
            .iter()
            .filter(|p| !p.sensitive())
            .map(|p| (p.name.clone(), Value::Str(p.value.clone())))
            .collect();
        fields.push(("parameters".into(), object(values)));
    }
    fields.push(field("log", ""));
    if let Some(tests) = build.test_report() {
        let total = tests.passed + tests.failed + tests.skipped;
        let failed_tests = (1..=tests.failed)
            .map(|i| Value::Str(super::render::tests::failed_test_name(i)))
            .collect();
        fields.push((
            "test_summary".into(),
            object(vec![
                field("total", total),
                field("failed", tests.failed),
                field("passed", tests.passed),
                field("skipped", tests.skipped),
                ("failed_tests".into(), Value::Arr(failed_tests)),
            ]),
        ));
    }
    let artifacts = build
        .artifacts()
        .iter()
        .map(|(path, _)| {
            let archive = format!("{}{url}artifact/{path}", world.root_url);
            (path.clone(), object(vec![field("archive", archive)]))
        })
        .collect();
    fields.push(("artifacts".into(), object(artifacts)));
    let body = object(vec![
        field("name", job_ref.name()),
        field("display_name", job_ref.display_name()),
        field("url", job_ref.url()),
        ("build".into(), object(fields)),
    ]);
    Some(to_json(&body, false))
}

fn field(name: &str, value: impl Into<Value>) -> (String, Value) {
    (name.to_string(), value.into())
}

fn object(fields: Vec<(String, Value)>) -> Value {
    Value::Obj(Obj {
        class: None,
        fields,
    })
}

/// Sends notices one after another while the simulator serves; counts them in the stats.
pub(super) async fn deliver(shared: Arc<Shared>, mut notices: UnboundedReceiver<Notice>) {
    let client = match reqwest::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(TIMEOUT)
        .build()
    {
        Ok(client) => client,
        Err(e) => {
            tracing::warn!(error = %e, "the Jenkins simulator cannot send notifications");
            return;
        }
    };
    let mut serving = shared.serving.subscribe();
    while let Some(notice) = notices.recv().await {
        if serving.wait_for(|up| *up).await.is_err() {
            return;
        }
        let delivered = client
            .post(&notice.url)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/json;charset=UTF-8",
            )
            .body(notice.body)
            .send()
            .await
            .is_ok();
        shared.lock().stats.notification(delivered);
    }
}
