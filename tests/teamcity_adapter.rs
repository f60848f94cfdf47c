//! The TeamCity adapter against the TeamCity simulator, over real HTTP on loopback:
//! triggering with branch, parameters and comment; every way a build can end; output
//! variables; logs; cancels; finding a build whose trigger answer was lost; Basic auth
//! with CSRF; retries, errors and the rate limit; batched polling; webhooks; and the
//! queue and inactivity limits.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::Query;
use axum::http::{HeaderMap, StatusCode};
use baton::adapters::teamcity::TeamCityAdapter;
use baton::adapters::{
    ActionContext, Adapter, AdapterError, Callback, CallbackError, Outcome, Progress, Started,
};
use baton::config::ServerSettings;
use baton::model::ConfigValue;
use baton::sim::teamcity::{
    BuildTypeSpec, BuildView, TeamCitySim, TeamCitySimOptions, TestCounts, WebhookFormat,
};
use tokio::sync::mpsc;

const TOKEN: &str = "tc-access-token-0123456789";
const BT: &str = "Backend_Deploy";

async fn sim() -> TeamCitySim {
    TeamCitySim::start_with(TeamCitySimOptions {
        token: Some(TOKEN.into()),
        ..TeamCitySimOptions::default()
    })
    .expect("simulator")
}

/// Server settings for the simulator; `extra` adds YAML keys (`, key: value`).
fn settings(sim: &TeamCitySim, extra: &str) -> ServerSettings {
    serde_yaml::from_str(&format!(
        "{{name: tc, kind: teamcity, url: '{}', token: {TOKEN}, poll_interval: 50ms, \
         max_poll_interval: 200ms, request_timeout: 5s{extra}}}",
        sim.url()
    ))
    .expect("server settings")
}

fn adapter_with(settings: &ServerSettings) -> TeamCityAdapter {
    TeamCityAdapter::new(settings)
        .and_then(|a| a.with_backoff(Duration::from_millis(10), Duration::from_millis(200)))
        .expect("adapter")
}

fn adapter(sim: &TeamCitySim) -> TeamCityAdapter {
    adapter_with(&settings(sim, ""))
}

fn context(run_id: &str, configuration: &[(&str, &str)]) -> ActionContext {
    ActionContext {
        run_id: run_id.into(),
        pipeline: "backend".into(),
        execution_id: "exec-1".into(),
        stage: "Deploy".into(),
        action: "Staging".into(),
        attempt: 1,
        configuration: std::sync::Arc::new(
            configuration
                .iter()
                .map(|(k, v)| (k.to_string(), ConfigValue::Text(v.to_string())))
                .collect(),
        ),
        revision: None,
        input_artifacts: Vec::new(),
        execution_link: "http://127.0.0.1:8700/executions/exec-1".into(),
    }
}

fn deploy(run_id: &str) -> ActionContext {
    context(run_id, &[("BuildType", BT)])
}

fn spec(duration_ms: u64) -> BuildTypeSpec {
    BuildTypeSpec {
        duration: Duration::from_millis(duration_ms),
        ..BuildTypeSpec::default()
    }
}

/// A configuration whose builds wait in the queue until released.
fn stays_queued() -> BuildTypeSpec {
    BuildTypeSpec {
        stay_queued: true,
        ..spec(0)
    }
}

/// A configuration whose builds run until the test finishes them.
fn held() -> BuildTypeSpec {
    BuildTypeSpec {
        hold: true,
        ..spec(0)
    }
}

/// Polls like a follower (at the adapter's interval, retrying retryable errors) until
/// the build finishes.
async fn follow(adapter: &TeamCityAdapter, ctx: &ActionContext, id: &str) -> Outcome {
    let started = Instant::now();
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "build {id} never finished"
        );
        let wait = match adapter.status(ctx, id).await {
            Ok(Progress::Finished(outcome)) => return outcome,
            Ok(Progress::Running { .. }) => adapter.poll_interval(started.elapsed()),
            Err(AdapterError::Retryable { .. }) => Duration::from_millis(50),
            Err(error) => panic!("following build {id}: {error}"),
        };
        tokio::time::sleep(wait).await;
    }
}

/// Waits until the simulator shows build `id` in `state`.
async fn until_state(sim: &TeamCitySim, id: &str, state: &str) -> BuildView {
    let started = Instant::now();
    loop {
        if let Some(build) = sim
            .builds()
            .into_iter()
            .find(|b| b.id.to_string() == id && b.state == state)
        {
            return build;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "build {id} never got {state}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn failed(outcome: Outcome) -> (String, BTreeMap<String, String>) {
    match outcome {
        Outcome::Failed { error, outputs } => (error, outputs),
        other => panic!("expected a failure, got {other:?}"),
    }
}

fn fatal<T: std::fmt::Debug>(result: Result<T, AdapterError>) -> String {
    match result {
        Err(AdapterError::Fatal(message)) => message,
        other => panic!("expected a fatal error, got {other:?}"),
    }
}

async fn trigger(adapter: &TeamCityAdapter, ctx: &ActionContext) -> Started {
    adapter.trigger(ctx).await.expect("trigger")
}

#[tokio::test]
async fn triggers_with_branch_properties_and_comment_then_succeeds() {
    let sim = sim().await;
    sim.add_build_type(BT, spec(100));
    let adapter = adapter(&sim);
    let ctx = context(
        "exec-1.1",
        &[
            ("BuildType", BT),
            ("Branch", "release/1.2"),
            (
                "Properties",
                r#"{"env.TARGET": "staging", "system.retries": 3, "dryRun": "false"}"#,
            ),
            ("Comment", "Release 1.2"),
        ],
    );
    let started = trigger(&adapter, &ctx).await;
    assert!(started.external_url.is_some());

    let builds = sim.builds();
    assert_eq!(builds.len(), 1);
    let build = &builds[0];
    assert_eq!(build.id.to_string(), started.external_id);
    assert_eq!(build.build_type, BT);
    assert_eq!(build.branch.as_deref(), Some("release/1.2"));
    assert_eq!(build.properties["env.TARGET"], "staging");
    assert_eq!(build.properties["system.retries"], "3");
    assert_eq!(build.properties["dryRun"], "false");
    assert_eq!(build.properties["baton.action.run"], "exec-1.1");
    let comment = build.comment.as_deref().unwrap_or_default();
    assert!(comment.starts_with("Release 1.2"), "{comment}");
    assert!(
        comment.contains("pipeline backend, execution exec-1"),
        "{comment}"
    );
    assert!(comment.contains(&ctx.execution_link), "{comment}");

    match follow(&adapter, &ctx, &started.external_id).await {
        Outcome::Succeeded { outputs, summary } => {
            assert_eq!(outputs["BuildId"], started.external_id);
            assert_eq!(outputs["Status"], "SUCCESS");
            assert!(outputs.contains_key("BuildNumber"));
            assert!(summary.unwrap_or_default().contains("succeeded"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(sim.stats().triggers_per_build_type[BT], 1);
}

#[tokio::test]
async fn failing_statuses_fail_with_teamcitys_words() {
    let sim = sim().await;
    for (bt, status, text) in [
        ("App_Failure", "FAILURE", "Exit code 1"),
        ("App_Error", "ERROR", "Internal error"),
        ("App_Unknown", "UNKNOWN", "Odd"),
    ] {
        sim.add_build_type(
            bt,
            BuildTypeSpec {
                status: status.into(),
                status_text: Some(text.into()),
                ..spec(50)
            },
        );
    }
    let adapter = adapter(&sim);
    for (bt, expected) in [
        ("App_Failure", "failed: Exit code 1"),
        ("App_Error", "failed: Internal error"),
        ("App_Unknown", "finished with status UNKNOWN: Odd"),
    ] {
        let ctx = context(&format!("run-{bt}"), &[("BuildType", bt)]);
        let started = trigger(&adapter, &ctx).await;
        let (error, outputs) = failed(follow(&adapter, &ctx, &started.external_id).await);
        assert!(error.contains(expected), "{bt}: {error}");
        assert_eq!(outputs["BuildId"], started.external_id);
    }
}

#[tokio::test]
async fn failed_to_start_and_removed_from_queue_say_so() {
    let sim = sim().await;
    sim.add_build_type(
        "App_NoAgent",
        BuildTypeSpec {
            fail_to_start: true,
            ..spec(0)
        },
    );
    sim.add_build_type(BT, stays_queued());
    let adapter = adapter(&sim);

    let ctx = context("run-noagent", &[("BuildType", "App_NoAgent")]);
    let started = trigger(&adapter, &ctx).await;
    let (error, _) = failed(follow(&adapter, &ctx, &started.external_id).await);
    assert!(error.contains("failed to start"), "{error}");

    let ctx = deploy("run-removed");
    let started = trigger(&adapter, &ctx).await;
    match adapter.status(&ctx, &started.external_id).await.unwrap() {
        Progress::Running { summary, .. } => {
            assert!(summary.unwrap_or_default().starts_with("queued"))
        }
        other => panic!("{other:?}"),
    }
    let id: u64 = started.external_id.parse().unwrap();
    assert!(sim.remove_from_queue(id, "alice"));
    let (error, _) = failed(follow(&adapter, &ctx, &started.external_id).await);
    assert!(error.contains("removed from the queue"), "{error}");
    assert!(error.to_lowercase().contains("alice"), "{error}");
    assert!(error.contains("before it started"), "{error}");
}

#[tokio::test]
async fn outputs_carry_dotted_parameters_tests_and_artifacts() {
    let sim = sim().await;
    sim.add_build_type(
        BT,
        BuildTypeSpec {
            resulting_properties: vec![
                ("build.vcs.number".into(), "9f1c2e7".into()),
                ("env.IMAGE".into(), "registry/app:312".into()),
            ],
            tests: Some(TestCounts {
                passed: 5,
                failed: 0,
                ignored: 1,
            }),
            artifacts: vec![
                ("app.jar".into(), "jar".into()),
                ("reports/index.html".into(), "<html/>".into()),
            ],
            ..spec(50)
        },
    );
    let adapter = adapter(&sim);
    let ctx = context(
        "run-outputs",
        &[
            ("BuildType", BT),
            ("OutputParameters", "build.vcs.number, env.IMAGE, not.there"),
        ],
    );
    let started = trigger(&adapter, &ctx).await;
    let outputs = match follow(&adapter, &ctx, &started.external_id).await {
        Outcome::Succeeded { outputs, .. } => outputs,
        other => panic!("{other:?}"),
    };
    assert_eq!(outputs["build.vcs.number"], "9f1c2e7");
    assert_eq!(outputs["env.IMAGE"], "registry/app:312");
    assert!(!outputs.contains_key("not.there"));
    assert_eq!(outputs["TestsPassed"], "5");
    assert_eq!(outputs["TestsFailed"], "0");
    assert_eq!(outputs["TestsIgnored"], "1");
    assert_eq!(outputs["TestsTotal"], "6");
    assert_eq!(outputs["Artifacts"], "app.jar,reports");
    assert!(outputs["WebUrl"].starts_with(&sim.url()));
}

/// The text of each line of a TeamCity build log, without its `[HH:MM:SS]x: ` prefix.
fn log_messages(log: &str) -> Vec<&str> {
    log.lines()
        .filter_map(|line| line.split_once("]").map(|(_, rest)| rest))
        .filter_map(|rest| rest.split_once(": ").map(|(_, text)| text))
        .collect()
}

#[tokio::test]
async fn logs_grow_while_running_and_complete_when_finished() {
    let sim = sim().await;
    let steps: Vec<String> = (1..=10).map(|n| format!("Step {n}/10")).collect();
    sim.add_build_type(
        BT,
        BuildTypeSpec {
            log: steps.iter().map(|step| format!("{step}\n")).collect(),
            // Step n is written (n - 1) * 300 ms after the start.
            ..spec(3_000)
        },
    );
    let adapter = adapter(&sim);
    let ctx = deploy("run-log");
    let started = trigger(&adapter, &ctx).await;
    until_state(&sim, &started.external_id, "running").await;

    // TeamCity's log as it stands: its own preamble, then the steps reached so far.
    let first = adapter.log(&ctx, &started.external_id, 0).await.unwrap();
    assert!(!first.complete);
    assert_eq!(first.next_offset, first.text.len() as u64);
    let so_far = log_messages(&first.text);
    assert!(so_far.contains(&"Step 1/10"), "{:?}", first.text);
    assert!(!so_far.contains(&"Step 10/10"), "{:?}", first.text);

    follow(&adapter, &ctx, &started.external_id).await;
    let rest = adapter
        .log(&ctx, &started.external_id, first.next_offset)
        .await
        .unwrap();
    assert!(rest.complete);
    assert!(!rest.text.is_empty());
    let whole = format!("{}{}", first.text, rest.text);
    let again = adapter.log(&ctx, &started.external_id, 0).await.unwrap();
    assert_eq!(
        whole, again.text,
        "the chunks join without a gap or overlap"
    );
    let logged: Vec<&str> = log_messages(&whole)
        .into_iter()
        .filter(|text| text.starts_with("Step "))
        .collect();
    assert_eq!(logged, steps);
}

#[tokio::test]
async fn cancels_queued_and_running_builds() {
    let sim = sim().await;
    sim.add_build_type("App_Queued", stays_queued());
    sim.add_build_type("App_Held", held());
    let adapter = adapter(&sim);

    let queued = context("run-q", &[("BuildType", "App_Queued")]);
    let started = trigger(&adapter, &queued).await;
    adapter
        .cancel(&queued, Some(&started.external_id))
        .await
        .unwrap();
    let build = until_state(&sim, &started.external_id, "finished").await;
    // Removed from the queue by Baton's cancel request, in its name and with its words
    // (either cancel endpoint may carry it: both remove a queued build).
    assert!(build.removed_from_queue, "{build:?}");
    let canceled = build.canceled_info.expect("canceledInfo");
    assert_eq!(canceled.user.as_deref(), Some("ci-bot"));
    let text = canceled.text.unwrap_or_default();
    assert!(text.starts_with("Canceled by Baton"), "{text}");
    assert!(sim.stats().by_kind.cancel >= 1, "{:?}", sim.stats().by_kind);
    let (error, _) = failed(follow(&adapter, &queued, &started.external_id).await);
    assert!(error.contains("removed from the queue"), "{error}");

    let held = context("run-h", &[("BuildType", "App_Held")]);
    let started = trigger(&adapter, &held).await;
    until_state(&sim, &started.external_id, "running").await;
    adapter
        .cancel(&held, Some(&started.external_id))
        .await
        .unwrap();
    let (error, _) = failed(follow(&adapter, &held, &started.external_id).await);
    assert!(error.contains("was canceled"), "{error}");
    assert!(error.contains("Canceled by Baton"), "{error}");

    // Canceling again, or a finished build, is not an error.
    adapter
        .cancel(&held, Some(&started.external_id))
        .await
        .unwrap();
}

#[tokio::test]
async fn cancel_without_an_external_id_finds_the_build_by_its_marker() {
    let sim = sim().await;
    sim.add_build_type(BT, held());
    let adapter = adapter(&sim);
    let ctx = deploy("run-unrecorded");
    let started = trigger(&adapter, &ctx).await;
    until_state(&sim, &started.external_id, "running").await;
    adapter.cancel(&ctx, None).await.unwrap();
    let build = until_state(&sim, &started.external_id, "finished").await;
    assert!(build.canceled_info.is_some());
    // Nothing carries this run's marker: nothing to cancel, no error.
    adapter.cancel(&deploy("run-never"), None).await.unwrap();
}

#[tokio::test]
async fn a_lost_trigger_answer_is_found_and_never_sent_twice() {
    let sim = sim().await;
    sim.add_build_type(BT, spec(100));
    let adapter = adapter(&sim);
    let ctx = deploy("run-lost");
    assert_eq!(adapter.find(&ctx).await.unwrap(), None);

    sim.lose_next_responses(1, 502);
    match adapter.trigger(&ctx).await {
        Err(AdapterError::Retryable { .. }) => {}
        other => panic!("a lost answer must be retryable: {other:?}"),
    }
    // What the follower does next: look before triggering again.
    let found = adapter.find(&ctx).await.unwrap().expect("the queued build");
    let builds = sim.builds();
    assert_eq!(builds.len(), 1, "no second build");
    assert_eq!(found.external_id, builds[0].id.to_string());
    assert!(matches!(
        follow(&adapter, &ctx, &found.external_id).await,
        Outcome::Succeeded { .. }
    ));
    // Another run's marker finds nothing.
    assert_eq!(adapter.find(&deploy("run-other")).await.unwrap(), None);
    assert_eq!(sim.stats().triggers_per_build_type[BT], 1);
}

#[tokio::test]
async fn basic_auth_posts_with_a_csrf_token() {
    let sim = TeamCitySim::start_with(TeamCitySimOptions {
        users: vec![("deployer".into(), "s3cret-password".into())],
        ..TeamCitySimOptions::default()
    })
    .unwrap();
    sim.add_build_type(
        BT,
        BuildTypeSpec {
            log: "hello\n".into(),
            ..spec(50)
        },
    );
    let settings: ServerSettings = serde_yaml::from_str(&format!(
        "{{name: tc, kind: teamcity, url: '{}', user: deployer, token: s3cret-password, \
         poll_interval: 50ms, request_timeout: 5s}}",
        sim.url()
    ))
    .unwrap();
    let adapter = adapter_with(&settings);
    let ctx = deploy("run-basic");
    let started = trigger(&adapter, &ctx).await;
    assert_eq!(sim.builds()[0].triggered_by.as_deref(), Some("deployer"));
    assert!(matches!(
        follow(&adapter, &ctx, &started.external_id).await,
        Outcome::Succeeded { .. }
    ));
    let log = adapter.log(&ctx, &started.external_id, 0).await.unwrap();
    assert!(log.text.contains("hello"), "{log:?}");
    assert!(log.complete);

    // A second POST reuses the session's token; a cancel of a finished build is a no-op.
    adapter
        .cancel(&ctx, Some(&started.external_id))
        .await
        .unwrap();

    // Wrong password: fatal, and the password is never in the message.
    let wrong: ServerSettings = serde_yaml::from_str(&format!(
        "{{name: tc, kind: teamcity, url: '{}', user: deployer, token: not-the-password}}",
        sim.url()
    ))
    .unwrap();
    let message = fatal(adapter_with(&wrong).trigger(&deploy("run-wrong")).await);
    assert!(message.contains("401"), "{message}");
    assert!(!message.contains("not-the-password"), "{message}");
    assert_eq!(sim.builds().len(), 1);
}

#[tokio::test]
async fn transient_errors_are_retried_and_others_are_fatal() {
    let sim = sim().await;
    sim.add_build_type(BT, spec(50));
    let adapter = adapter(&sim);
    let ctx = deploy("run-retry");
    let started = trigger(&adapter, &ctx).await;

    sim.fail_next(2, 503);
    adapter.status(&ctx, &started.external_id).await.unwrap();
    let before = Instant::now();
    sim.throttle_next(1, Duration::from_secs(1));
    adapter.status(&ctx, &started.external_id).await.unwrap();
    assert!(
        before.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured"
    );

    // A trigger is never retried blindly: a 503 comes back retryable.
    sim.fail_next(1, 503);
    match adapter.trigger(&deploy("run-503")).await {
        Err(AdapterError::Retryable { .. }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(adapter.find(&deploy("run-503")).await.unwrap(), None);

    let message = fatal(
        adapter
            .trigger(&context("run-404", &[("BuildType", "No_Such_Type")]))
            .await,
    );
    assert!(message.contains("404"), "{message}");
    assert!(message.contains("No_Such_Type"), "{message}");

    let mut wrong = settings(&sim, "");
    wrong.token = Some(baton::config::Secret::new("wrong-token-000"));
    let wrong = adapter_with(&wrong);
    let message = fatal(wrong.status(&ctx, &started.external_id).await);
    assert!(message.contains("401"), "{message}");
    assert!(!message.contains("wrong-token-000") && !message.contains(TOKEN));
}

#[tokio::test]
async fn the_rate_limit_is_respected() {
    let sim = sim().await;
    sim.add_build_type(BT, held());
    let adapter = adapter_with(&settings(&sim, ", rate_limit: {per_second: 10, burst: 2}"));
    let ctx = deploy("run-rate");
    let started = trigger(&adapter, &ctx).await;
    let begun = Instant::now();
    for _ in 0..24 {
        adapter.status(&ctx, &started.external_id).await.unwrap();
    }
    assert!(
        begun.elapsed() >= Duration::from_secs(2),
        "{:?}",
        begun.elapsed()
    );
    let stats = sim.stats();
    assert!(
        stats.max_requests_per_second <= 12,
        "{} requests in one second",
        stats.max_requests_per_second
    );
}

#[tokio::test]
async fn concurrent_builds_are_polled_in_batches() {
    let sim = sim().await;
    sim.add_build_type(BT, spec(1_500));
    let adapter = Arc::new(adapter_with(&settings(
        &sim,
        ", rate_limit: {per_second: 1000, burst: 1000}",
    )));
    const N: usize = 20;
    let began = tokio::time::Instant::now();
    let mut tasks = Vec::new();
    for n in 0..N {
        let adapter = adapter.clone();
        tasks.push(tokio::spawn(async move {
            let ctx = deploy(&format!("run-batch-{n}"));
            let started = adapter.trigger(&ctx).await.expect("trigger");
            follow(&adapter, &ctx, &started.external_id).await
        }));
    }
    for task in tasks {
        assert!(matches!(task.await.unwrap(), Outcome::Succeeded { .. }));
    }
    let stats = sim.stats();
    let reads = stats.by_kind.builds_list + stats.by_kind.build;
    let largest = stats.builds_list_sizes.iter().copied().max().unwrap_or(0);
    // Unbatched, 20 builds polled every 50-100 ms for 1.5 s would be hundreds of reads.
    assert!(reads <= 120, "{reads} reads: {:?}", stats.by_kind);
    assert!(
        largest >= N / 2,
        "largest batch {largest}: {:?}",
        stats.builds_list_sizes
    );
    // The simulator notes each build's reads, in lists as well as alone.
    assert_eq!(sim.builds_read_since(began), N);
    assert_eq!(sim.builds_read_since(tokio::time::Instant::now()), 0);
}

/// A webhook receiver: every request it gets, as a `Callback`.
async fn receiver() -> (String, mpsc::UnboundedReceiver<Callback>) {
    let (sender, inbox) = mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/hooks/teamcity/tc",
        axum::routing::post(
            move |Query(query): Query<BTreeMap<String, String>>,
                  headers: HeaderMap,
                  body: Bytes| {
                let sender = sender.clone();
                async move {
                    let headers = headers
                        .iter()
                        .filter_map(|(k, v)| {
                            Some((k.as_str().to_string(), v.to_str().ok()?.to_string()))
                        })
                        .collect();
                    let _ = sender.send(Callback {
                        query,
                        headers,
                        body: body.to_vec(),
                    });
                    StatusCode::ACCEPTED
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/hooks/teamcity/tc",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, inbox)
}

#[tokio::test]
async fn webhooks_wake_the_builds_follower_only_with_the_right_secret() {
    let sim = sim().await;
    let (url, mut inbox) = receiver().await;
    let adapter = adapter_with(&settings(&sim, ", callback: {secret: hook-secret-123}"));
    for (bt, format) in [
        ("Hook_Native", WebhookFormat::Native),
        ("Hook_Legacy", WebhookFormat::TcWebHooksJson),
        ("Hook_Elastic", WebhookFormat::TcWebHooksElasticsearch),
    ] {
        sim.add_build_type(
            bt,
            BuildTypeSpec {
                webhook_url: Some(format!("{url}?token=hook-secret-123")),
                webhook_format: format,
                ..spec(50)
            },
        );
        let ctx = context(&format!("run-{bt}"), &[("BuildType", bt)]);
        let started = trigger(&adapter, &ctx).await;
        let keys = adapter.wake_keys(&ctx, &started.external_id);
        assert_eq!(keys, [format!("build:{}", started.external_id)]);
        let mut callback = tokio::time::timeout(Duration::from_secs(10), inbox.recv())
            .await
            .expect("a webhook")
            .unwrap();
        // The first webhook (started, or already finished) names the build.
        let wakes = adapter.callback(&callback).unwrap();
        assert_eq!([wakes.now, wakes.soon].concat(), keys, "{format:?}");
        callback.query.insert("token".into(), "wrong".into());
        assert_eq!(
            adapter.callback(&callback),
            Err(CallbackError::Unauthorized)
        );
        callback.query.clear();
        assert_eq!(
            adapter.callback(&callback),
            Err(CallbackError::Unauthorized)
        );
        callback
            .query
            .insert("token".into(), "hook-secret-123".into());
        callback.body = b"<html>".to_vec();
        assert!(matches!(
            adapter.callback(&callback),
            Err(CallbackError::Malformed(_))
        ));
        follow(&adapter, &ctx, &started.external_id).await;
        while inbox.try_recv().is_ok() {}
    }
}

#[tokio::test]
async fn a_build_queued_too_long_is_canceled() {
    let sim = sim().await;
    sim.add_build_type(BT, stays_queued());
    let adapter = adapter_with(&settings(&sim, ", queue_timeout: 1500ms"));
    let ctx = deploy("run-queue-timeout");
    let started = trigger(&adapter, &ctx).await;
    let (error, _) = failed(follow(&adapter, &ctx, &started.external_id).await);
    assert!(error.contains("queue_timeout (1s 500ms)"), "{error}");
    let build = until_state(&sim, &started.external_id, "finished").await;
    assert!(build.removed_from_queue, "{build:?}");
}

#[tokio::test]
async fn a_silent_build_is_canceled() {
    let sim = sim().await;
    sim.add_build_type(
        BT,
        BuildTypeSpec {
            hold: true,
            log: "Step 1/1: waiting forever\n".into(),
            ..spec(0)
        },
    );
    let adapter = adapter_with(&settings(&sim, ", inactivity_timeout: 600ms"));
    let ctx = deploy("run-silent");
    let started = trigger(&adapter, &ctx).await;
    let begun = Instant::now();
    let (error, _) = failed(follow(&adapter, &ctx, &started.external_id).await);
    assert!(error.contains("inactivity_timeout (600ms)"), "{error}");
    assert!(begun.elapsed() >= Duration::from_millis(600));
    let build = until_state(&sim, &started.external_id, "finished").await;
    assert!(build.canceled_info.is_some(), "{build:?}");
}
