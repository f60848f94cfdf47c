//! The scripted CI adapter against the scripted CI simulator, over real HTTP on loopback:
//! triggers, finding runs by key, state transitions, cancellation, logs, fault
//! classification and the trigger counters the crash tests rely on.

use std::collections::BTreeMap;
use std::time::Duration;

use baton::adapters::scripted::ScriptedAdapter;
use baton::adapters::{ActionContext, Adapter, AdapterError, LogChunk, Outcome, Progress};
use baton::config::{Secret, ServerSettings};
use baton::model::ConfigValue;
use baton::sim::scripted::{RunState, ScriptedCi, ScriptedCiOptions};

fn settings(url: &str, token: Option<&str>) -> ServerSettings {
    let mut settings: ServerSettings = serde_yaml::from_str(&format!(
        "{{name: ci, kind: scripted, url: '{url}', poll_interval: 250ms, request_timeout: 5s}}"
    ))
    .expect("server settings");
    settings.token = token.map(Secret::new);
    settings
}

fn adapter(sim: &ScriptedCi) -> ScriptedAdapter {
    ScriptedAdapter::new(&settings(&sim.url(), None)).expect("adapter")
}

fn context(run_id: &str, configuration: &[(&str, &str)]) -> ActionContext {
    ActionContext {
        run_id: run_id.into(),
        pipeline: "app".into(),
        execution_id: "exec-1".into(),
        stage: "Build".into(),
        action: "Compile".into(),
        attempt: 1,
        configuration: std::sync::Arc::new(
            configuration
                .iter()
                .map(|(k, v)| (k.to_string(), ConfigValue::Text(v.to_string())))
                .chain([(
                    "Matrix".to_string(),
                    ConfigValue::Map(BTreeMap::from([("os".to_string(), "linux".to_string())])),
                )])
                .collect(),
        ),
        revision: None,
        input_artifacts: Vec::new(),
        execution_link: "http://127.0.0.1:8700/api/v1/executions/exec-1".into(),
    }
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn retryable(result: Result<impl std::fmt::Debug, AdapterError>) -> (String, Option<Duration>) {
    match result {
        Err(AdapterError::Retryable {
            message,
            retry_after,
        }) => (message, retry_after),
        other => panic!("expected Retryable, got {other:?}"),
    }
}

fn fatal(result: Result<impl std::fmt::Debug, AdapterError>) -> String {
    match result {
        Err(AdapterError::Fatal(message)) => message,
        other => panic!("expected Fatal, got {other:?}"),
    }
}

#[tokio::test]
async fn trigger_find_and_succeed() {
    let sim = ScriptedCi::start().expect("start sim");
    let adapter = adapter(&sim);
    let ctx = context(
        "run-1",
        &[
            ("Job", "build-app"),
            ("Outputs", "Version=1.2,Image=app:1.2"),
            ("Color", "blue"),
        ],
    );

    let started = adapter.trigger(&ctx).await.expect("trigger");
    assert_eq!(started.finished, None);
    assert_eq!(
        started.external_url,
        Some(format!("{}/runs/{}", sim.url(), started.external_id))
    );

    let found = adapter.find(&ctx).await.expect("find");
    assert_eq!(found, Some(started.clone()));
    assert_eq!(adapter.find(&context("run-other", &[])).await, Ok(None));

    let progress = adapter
        .status(&ctx, &started.external_id)
        .await
        .expect("status");
    assert_eq!(
        progress,
        Progress::Finished(Outcome::Succeeded {
            outputs: map(&[("Image", "app:1.2"), ("Version", "1.2")]),
            summary: Some(format!("build-app run {} succeeded", started.external_id)),
        })
    );

    let runs = sim.runs();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].key, "run-1");
    assert_eq!(runs[0].job, "build-app");
    // Every text entry of the configuration is a parameter; maps are not.
    assert_eq!(
        runs[0].parameters,
        map(&[
            ("Color", "blue"),
            ("Job", "build-app"),
            ("Outputs", "Version=1.2,Image=app:1.2")
        ])
    );
    assert_eq!(sim.triggers("run-1"), 1);
    assert_eq!(
        adapter.poll_interval(Duration::ZERO),
        Duration::from_millis(250)
    );
}

#[tokio::test]
async fn the_job_defaults_to_the_action_name() {
    let sim = ScriptedCi::start().expect("start sim");
    adapter(&sim)
        .trigger(&context("run-1", &[]))
        .await
        .expect("trigger");
    assert_eq!(sim.runs()[0].job, "Compile");
}

#[tokio::test]
async fn failed_runs_report_their_error() {
    let sim = ScriptedCi::start().expect("start sim");
    let adapter = adapter(&sim);
    let ctx = context(
        "run-1",
        &[("Outcome", "FAILED"), ("Error", "tests failed: 3")],
    );
    let started = adapter.trigger(&ctx).await.expect("trigger");
    let progress = adapter.status(&ctx, &started.external_id).await;
    assert_eq!(
        progress,
        Ok(Progress::Finished(Outcome::Failed {
            error: "tests failed: 3".into(),
            outputs: BTreeMap::new(),
        }))
    );
}

#[tokio::test]
async fn held_runs_wait_for_release() {
    let sim = ScriptedCi::start().expect("start sim");
    let adapter = adapter(&sim);
    let ctx = context("run-1", &[("Outcome", "HOLD"), ("Outputs", "A=1")]);
    let started = adapter.trigger(&ctx).await.expect("trigger");
    let id = started.external_id.as_str();

    for _ in 0..2 {
        assert!(matches!(
            adapter.status(&ctx, id).await,
            Ok(Progress::Running { .. })
        ));
    }
    assert!(sim.release("run-1", true, [("B", "2")]));
    assert_eq!(
        adapter.status(&ctx, id).await,
        Ok(Progress::Finished(Outcome::Succeeded {
            outputs: map(&[("A", "1"), ("B", "2")]),
            summary: Some(format!("Compile run {id} succeeded")),
        }))
    );
    // Nothing left to release.
    assert!(!sim.release("run-1", true, Vec::<(String, String)>::new()));

    let ctx = context("run-2", &[("Outcome", "HOLD")]);
    let started = adapter.trigger(&ctx).await.expect("trigger");
    assert!(sim.release(&started.external_id, false, [("Partial", "yes")]));
    assert_eq!(
        adapter.status(&ctx, &started.external_id).await,
        Ok(Progress::Finished(Outcome::Failed {
            error: "job `Compile` failed".into(),
            outputs: map(&[("Partial", "yes")]),
        }))
    );
}

#[tokio::test]
async fn runs_with_a_duration_report_progress_then_finish() {
    let sim = ScriptedCi::start().expect("start sim");
    let adapter = adapter(&sim);
    let ctx = context("run-1", &[("DurationMs", "400")]);
    let started = adapter.trigger(&ctx).await.expect("trigger");
    match adapter.status(&ctx, &started.external_id).await {
        Ok(Progress::Running {
            percent_complete: Some(percent),
            ..
        }) => assert!(percent < 100),
        other => panic!("expected Running with a percentage, got {other:?}"),
    }
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert!(matches!(
        adapter.status(&ctx, &started.external_id).await,
        Ok(Progress::Finished(Outcome::Succeeded { .. }))
    ));
}

#[tokio::test]
async fn cancel_stops_a_running_run() {
    let sim = ScriptedCi::start().expect("start sim");
    let adapter = adapter(&sim);
    let ctx = context("run-1", &[("Outcome", "HOLD")]);
    let started = adapter.trigger(&ctx).await.expect("trigger");
    assert!(!sim.cancelled("run-1"));
    adapter
        .cancel(&ctx, Some(&started.external_id))
        .await
        .expect("cancel");
    assert!(sim.cancelled("run-1"));
    assert_eq!(
        adapter.status(&ctx, &started.external_id).await,
        Ok(Progress::Finished(Outcome::Failed {
            error: "cancelled".into(),
            outputs: BTreeMap::new(),
        }))
    );
    // A cancelled run cannot be released.
    assert!(!sim.release("run-1", true, Vec::<(String, String)>::new()));
}

#[tokio::test]
async fn cancel_without_an_id_finds_the_run_by_key() {
    let sim = ScriptedCi::start().expect("start sim");
    let adapter = adapter(&sim);
    let ctx = context("run-1", &[("Outcome", "HOLD")]);
    adapter.trigger(&ctx).await.expect("trigger");
    adapter.cancel(&ctx, None).await.expect("cancel");
    assert!(sim.cancelled("run-1"));
    assert_eq!(sim.runs()[0].state, RunState::Cancelled);

    // Nothing carries the key: nothing to do.
    adapter
        .cancel(&context("never-sent", &[]), None)
        .await
        .expect("cancel");
}

#[tokio::test]
async fn logs_are_read_from_offsets() {
    let sim = ScriptedCi::start().expect("start sim");
    let adapter = adapter(&sim);
    let ctx = context(
        "run-1",
        &[("Outcome", "HOLD"), ("Log", "compiling\nlinking\n")],
    );
    let id = adapter.trigger(&ctx).await.expect("trigger").external_id;

    let chunk = adapter.log(&ctx, &id, 0).await.expect("log");
    assert_eq!(
        chunk,
        LogChunk {
            text: "compiling\nlinking\n".into(),
            next_offset: 18,
            complete: false,
        }
    );
    let chunk = adapter.log(&ctx, &id, 10).await.expect("log");
    assert_eq!(chunk.text, "linking\n");
    let chunk = adapter.log(&ctx, &id, 18).await.expect("log");
    assert_eq!((chunk.text.as_str(), chunk.complete), ("", false));

    assert!(sim.release("run-1", true, Vec::<(String, String)>::new()));
    let chunk = adapter.log(&ctx, &id, 18).await.expect("log");
    assert_eq!(
        chunk,
        LogChunk {
            text: "Finished: SUCCEEDED\n".into(),
            next_offset: 38,
            complete: true,
        }
    );
    // Past the end: nothing more.
    let chunk = adapter.log(&ctx, &id, 1000).await.expect("log");
    assert_eq!((chunk.text.as_str(), chunk.next_offset), ("", 38));
}

#[tokio::test]
async fn server_errors_are_retryable() {
    let sim = ScriptedCi::start().expect("start sim");
    let adapter = adapter(&sim);
    let ctx = context("run-1", &[]);

    sim.fail_next(1, 503);
    let (message, retry_after) = retryable(adapter.trigger(&ctx).await);
    assert!(message.contains("503"), "{message}");
    assert_eq!(retry_after, None);
    // The failed request never reached the server.
    assert_eq!(sim.triggers("run-1"), 0);

    sim.throttle_next(1, Duration::from_secs(7));
    let (message, retry_after) = retryable(adapter.find(&ctx).await);
    assert!(message.contains("429"), "{message}");
    assert_eq!(retry_after, Some(Duration::from_secs(7)));

    // The faults are used up: the server answers again.
    adapter.trigger(&ctx).await.expect("trigger");
    assert_eq!(sim.triggers("run-1"), 1);
}

#[tokio::test]
async fn slow_answers_time_out_as_retryable() {
    let sim = ScriptedCi::start().expect("start sim");
    let mut slow = settings(&sim.url(), None);
    slow.request_timeout = Duration::from_millis(200);
    let adapter = ScriptedAdapter::new(&slow).expect("adapter");
    sim.delay_next(1, Duration::from_secs(2));
    let (message, _) = retryable(adapter.find(&context("run-1", &[])).await);
    assert!(message.contains("timed out"), "{message}");
}

#[tokio::test]
async fn authentication() {
    let sim = ScriptedCi::start_with(ScriptedCiOptions {
        token: Some("right-token-0123456789".into()),
        ..ScriptedCiOptions::default()
    })
    .expect("start sim");
    let ctx = context("run-1", &[]);

    let wrong = ScriptedAdapter::new(&settings(&sim.url(), Some("wrong-token-9876543210")))
        .expect("adapter");
    let message = fatal(wrong.trigger(&ctx).await);
    assert!(message.contains("401"), "{message}");
    assert!(!message.contains("wrong-token"), "{message}");

    let anonymous = ScriptedAdapter::new(&settings(&sim.url(), None)).expect("adapter");
    fatal(anonymous.find(&ctx).await);
    assert_eq!(sim.total_triggers(), 0);

    let right = ScriptedAdapter::new(&settings(&sim.url(), Some("right-token-0123456789")))
        .expect("adapter");
    let started = right.trigger(&ctx).await.expect("trigger");
    assert!(right.status(&ctx, &started.external_id).await.is_ok());
    assert_eq!(sim.total_triggers(), 1);
}

#[tokio::test]
async fn bad_requests_and_unknown_runs_are_fatal() {
    let sim = ScriptedCi::start().expect("start sim");
    let adapter = adapter(&sim);
    let ctx = context("run-1", &[("Outcome", "MAYBE")]);
    let message = fatal(adapter.trigger(&ctx).await);
    assert!(message.contains("400"), "{message}");
    assert!(
        message.contains("parameter Outcome is `MAYBE`"),
        "{message}"
    );
    assert_eq!(sim.total_triggers(), 0);

    let message = fatal(adapter.status(&ctx, "999").await);
    assert!(message.contains("404"), "{message}");
    assert!(message.contains("no run `999`"), "{message}");
    fatal(adapter.log(&ctx, "999", 0).await);
}

#[tokio::test]
async fn counters_show_duplicate_triggers() {
    let sim = ScriptedCi::start().expect("start sim");
    let adapter = adapter(&sim);
    let ctx = context("run-1", &[]);
    let first = adapter.trigger(&ctx).await.expect("trigger");
    let second = adapter.trigger(&ctx).await.expect("trigger again");
    adapter
        .trigger(&context("run-2", &[]))
        .await
        .expect("trigger");
    assert_ne!(first.external_id, second.external_id);
    assert_eq!(sim.triggers("run-1"), 2);
    assert_eq!(sim.triggers("run-2"), 1);
    assert_eq!(sim.triggers("run-3"), 0);
    assert_eq!(sim.total_triggers(), 3);
    // `find` follows the oldest run of a key.
    assert_eq!(adapter.find(&ctx).await, Ok(Some(first)));
}

#[tokio::test]
async fn a_lost_trigger_response_is_found_by_key() {
    let sim = ScriptedCi::start().expect("start sim");
    let adapter = adapter(&sim);
    let ctx = context("run-1", &[]);
    sim.lose_next_responses(1, 502);
    retryable(adapter.trigger(&ctx).await);
    // The trigger arrived: `find` sees it, so the runtime need not trigger again.
    assert_eq!(sim.triggers("run-1"), 1);
    let found = adapter.find(&ctx).await.expect("find");
    assert_eq!(found.map(|s| s.external_id), Some(sim.runs()[0].id.clone()));
}

#[tokio::test]
async fn a_server_that_is_down_is_retryable_and_can_come_back() {
    let mut sim = ScriptedCi::start().expect("start sim");
    let adapter = adapter(&sim);
    let ctx = context("run-1", &[("Outcome", "HOLD")]);
    let id = adapter.trigger(&ctx).await.expect("trigger").external_id;

    sim.stop().await;
    let (message, _) = retryable(adapter.status(&ctx, &id).await);
    assert!(message.contains("cannot connect"), "{message}");

    // Back on the same port with the same runs.
    sim.resume().expect("resume");
    assert!(matches!(
        adapter.status(&ctx, &id).await,
        Ok(Progress::Running { .. })
    ));

    // A fresh server on the same port knows nothing of the old runs.
    let addr = sim.addr();
    sim.shutdown().await;
    let fresh = ScriptedCi::start_on(addr).expect("restart");
    assert_eq!(fresh.url(), format!("http://{addr}"));
    fatal(adapter.status(&ctx, &id).await);
    assert_eq!(fresh.total_triggers(), 0);
}
