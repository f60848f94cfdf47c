//! The Jenkins adapter against the Jenkins simulator, over real HTTP on loopback:
//! triggering through `buildWithParameters` and plain `build`, folders and a
//! multibranch branch; queue items followed to builds; every result and its outputs;
//! progressive logs; cancels; finding a run's work after a crash (by marker, or by the
//! `unknown_trigger` policy) and a forgotten queue item by `queueId`; crumbs with their
//! session; coalesced triggers; retried reads; the queue and inactivity limits;
//! notification callbacks; and batched polling.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::Query;
use axum::http::{HeaderMap, StatusCode};
use baton::adapters::jenkins::{JenkinsAdapter, MARKER};
use baton::adapters::{ActionContext, Adapter, AdapterError, Callback, Outcome, Progress, Started};
use baton::config::ServerSettings;
use baton::model::ConfigValue;
use baton::sim::jenkins::{
    JenkinsSim, JenkinsSimOptions, JobKind, JobSpec, ParamSpec, RouteKind, TestCounts,
};
use tokio::sync::mpsc;

const USER: &str = "ci-bot";
const TOKEN: &str = "11223344556677889900aabbccddeeff";

fn options() -> JenkinsSimOptions {
    JenkinsSimOptions {
        users: vec![(USER.into(), TOKEN.into())],
        ..JenkinsSimOptions::default()
    }
}

fn sim() -> JenkinsSim {
    JenkinsSim::start_with(options()).expect("simulator")
}

/// Server settings for the simulator; `extra` adds YAML keys (`, key: value`).
fn settings(sim: &JenkinsSim, extra: &str) -> ServerSettings {
    serde_yaml::from_str(&format!(
        "{{name: jk, kind: jenkins, url: '{}', user: {USER}, token: {TOKEN}, poll_interval: 50ms, \
         max_poll_interval: 200ms, request_timeout: 5s{extra}}}",
        sim.url()
    ))
    .expect("server settings")
}

fn adapter_with(settings: &ServerSettings) -> JenkinsAdapter {
    JenkinsAdapter::with_read_backoff(
        settings,
        Duration::from_millis(10),
        Duration::from_millis(200),
    )
    .expect("adapter")
}

fn adapter(sim: &JenkinsSim) -> JenkinsAdapter {
    adapter_with(&settings(sim, ""))
}

fn context(run_id: &str, configuration: &[(&str, &str)]) -> ActionContext {
    ActionContext {
        run_id: run_id.into(),
        pipeline: "backend".into(),
        execution_id: "exec-1".into(),
        stage: "Build".into(),
        action: "Compile".into(),
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

fn job(run_id: &str, project: &str) -> ActionContext {
    context(run_id, &[("ProjectName", project)])
}

fn marker() -> ParamSpec {
    ParamSpec::new(MARKER, None)
}

fn spec(duration_ms: u64) -> JobSpec {
    JobSpec {
        parameters: vec![marker()],
        duration: Duration::from_millis(duration_ms),
        ..JobSpec::default()
    }
}

/// A job whose builds run until the test ends them.
fn held() -> JobSpec {
    JobSpec {
        hold: true,
        ..spec(0)
    }
}

/// A job whose queue items stay blocked until released.
fn blocked() -> JobSpec {
    JobSpec {
        blocked: true,
        ..spec(0)
    }
}

async fn trigger(adapter: &JenkinsAdapter, ctx: &ActionContext) -> Started {
    adapter.trigger(ctx).await.expect("trigger")
}

/// Polls like a follower until the work finishes.
async fn follow(adapter: &JenkinsAdapter, ctx: &ActionContext, id: &str) -> Outcome {
    let started = Instant::now();
    let mut id = id.to_string();
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{id} never finished"
        );
        let wait = match adapter.status(ctx, &id).await {
            Ok(Progress::Finished(outcome)) => return outcome,
            Ok(Progress::Running { external_id, .. }) => {
                if let Some(better) = external_id {
                    id = better;
                }
                adapter.poll_interval(started.elapsed())
            }
            Err(AdapterError::Retryable { .. }) => Duration::from_millis(50),
            Err(error) => panic!("following {id}: {error}"),
        };
        tokio::time::sleep(wait).await;
    }
}

/// Polls until the queue item has become a build; returns the build's id.
async fn until_running(adapter: &JenkinsAdapter, ctx: &ActionContext, id: &str) -> String {
    let started = Instant::now();
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{id} never started"
        );
        if let Ok(Progress::Running {
            external_id: Some(better),
            ..
        }) = adapter.status(ctx, id).await
        {
            return better;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the simulator shows `job` with `count` builds, the last one running.
async fn until_build(sim: &JenkinsSim, job: &str, count: usize) {
    let started = Instant::now();
    while sim.builds(job).len() < count {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{job} never built"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn succeeded(outcome: Outcome) -> (Option<String>, BTreeMap<String, String>) {
    match outcome {
        Outcome::Succeeded { outputs, summary } => (summary, outputs),
        other => panic!("expected success, got {other:?}"),
    }
}

fn failed(outcome: Outcome) -> (String, BTreeMap<String, String>) {
    match outcome {
        Outcome::Failed { error, outputs } => (error, outputs),
        other => panic!("expected failure, got {other:?}"),
    }
}

#[tokio::test]
async fn triggers_with_parameters_and_collects_outputs() {
    let sim = sim();
    sim.add_job(
        "team/deploy",
        JobSpec {
            parameters: vec![ParamSpec::new("BRANCH", Some("main")), marker()],
            log: "Compiling\nTesting\nPackaging".into(),
            test_report: Some(TestCounts {
                passed: 5,
                failed: 0,
                skipped: 1,
            }),
            artifacts: vec![
                (
                    "build.properties".into(),
                    "Version=1.4.2\nImage=registry/app:1.4.2\n".into(),
                ),
                ("dist/app.tar.gz".into(), "bytes".into()),
            ],
            ..spec(200)
        },
    );
    let adapter = adapter(&sim);
    let ctx = context(
        "run-1",
        &[
            ("ProjectName", "team/deploy"),
            ("Parameters", r#"{"BRANCH": "feature"}"#),
            ("PropertyFile", "build.properties"),
        ],
    );
    let started = trigger(&adapter, &ctx).await;
    assert_eq!(started.external_id, "q1");
    let (_, outputs) = succeeded(follow(&adapter, &ctx, &started.external_id).await);
    assert_eq!(outputs["BuildNumber"], "1");
    assert_eq!(outputs["Result"], "SUCCESS");
    assert_eq!(
        outputs["BuildUrl"],
        format!("{}/job/team/job/deploy/1/", sim.url())
    );
    assert_eq!(outputs["TestsPassed"], "5");
    assert_eq!(outputs["TestsSkipped"], "1");
    assert_eq!(outputs["TestsTotal"], "6");
    assert_eq!(outputs["Artifacts"], "build.properties,dist/app.tar.gz");
    assert_eq!(outputs["Version"], "1.4.2");
    let build: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/job/team/job/deploy/1/api/json", sim.url()))
        .basic_auth(USER, Some(TOKEN))
        .send()
        .await
        .expect("build api")
        .json()
        .await
        .expect("json");
    let parameters = &build["actions"][0]["parameters"];
    assert_eq!(parameters[0]["value"], "feature");
    assert_eq!(
        parameters[1]["value"], "run-1",
        "the marker carries the run id"
    );
    let description = build["description"].as_str().unwrap_or_default();
    assert!(description.contains("exec-1"), "a link back: {description}");
    assert_eq!(sim.stats().requests(RouteKind::Trigger), 1);
}

#[tokio::test]
async fn plain_build_in_folders_and_a_multibranch_branch() {
    let sim = sim();
    sim.add_job(
        "plain",
        JobSpec {
            kind: JobKind::FreeStyle,
            ..JobSpec::default()
        },
    );
    sim.add_job("org/team/app", spec(50));
    sim.add_job("org/repo/feature%2Ffoo", spec(50));
    let adapter = adapter(&sim);
    for (run, project) in [
        ("run-plain", "plain"),
        ("run-folder", "org/team/app"),
        ("run-branch", "org/repo/feature%2Ffoo"),
    ] {
        let ctx = job(run, project);
        let started = trigger(&adapter, &ctx).await;
        let (_, outputs) = succeeded(follow(&adapter, &ctx, &started.external_id).await);
        assert_eq!(outputs["BuildNumber"], "1", "{project}");
    }
    let branch = trigger(&adapter, &job("run-branch-2", "org/repo/feature%2Ffoo")).await;
    let url = branch.external_url.unwrap_or_default();
    assert!(
        url.ends_with("/job/org/job/repo/job/feature%252Ffoo/"),
        "{url}"
    );
    let stats = sim.stats();
    assert_eq!(stats.builds_started_of("plain"), 1);
    assert_eq!(stats.triggers_of("org/repo/feature%2Ffoo"), 2);
    // A job that does not exist is a fatal error that says how jobs are named.
    let error = adapter
        .trigger(&job("run-x", "org/nope"))
        .await
        .expect_err("no such job");
    assert!(matches!(error, AdapterError::Fatal(_)), "{error:?}");
}

#[tokio::test]
async fn a_freestyle_build_is_done_once_post_production_is() {
    let sim = sim();
    sim.add_job(
        "archiver",
        JobSpec {
            kind: JobKind::FreeStyle,
            // `building` turns false when the result is set; artifacts come later.
            post_production: Duration::from_millis(400),
            artifacts: vec![("out/build.properties".into(), "Version=2.0\n".into())],
            ..spec(50)
        },
    );
    let adapter = adapter(&sim);
    let ctx = context(
        "run-archive",
        &[
            ("ProjectName", "archiver"),
            ("PropertyFile", "out/build.properties"),
        ],
    );
    let started = trigger(&adapter, &ctx).await;
    let (_, outputs) = succeeded(follow(&adapter, &ctx, &started.external_id).await);
    assert_eq!(outputs["Version"], "2.0");
    assert_eq!(outputs["Artifacts"], "out/build.properties");
}

#[tokio::test]
async fn every_result_maps_to_an_outcome() {
    let sim = sim();
    sim.add_job(
        "results",
        JobSpec {
            parameters: vec![ParamSpec::new("SIM_RESULT", None), marker()],
            ..spec(20)
        },
    );
    let adapter = adapter(&sim);
    let run = |result: &str, extra: &[(&str, &str)]| {
        let parameters = format!(r#"{{"SIM_RESULT": "{result}"}}"#);
        let mut config = vec![
            ("ProjectName", "results"),
            ("Parameters", parameters.as_str()),
        ];
        config.extend_from_slice(extra);
        context(&format!("run-{result}-{}", extra.len()), &config)
    };
    for result in ["FAILURE", "UNSTABLE", "NOT_BUILT", "ABORTED"] {
        let ctx = run(result, &[]);
        let started = trigger(&adapter, &ctx).await;
        let (error, outputs) = failed(follow(&adapter, &ctx, &started.external_id).await);
        assert_eq!(outputs["Result"], result);
        assert!(error.contains(result), "{error}");
    }
    let ctx = run("UNSTABLE", &[("UnstableAsSuccess", "true")]);
    let started = trigger(&adapter, &ctx).await;
    let (summary, outputs) = succeeded(follow(&adapter, &ctx, &started.external_id).await);
    assert_eq!(outputs["Result"], "UNSTABLE");
    assert!(summary.unwrap_or_default().contains("UNSTABLE"));
    let ctx = run("SUCCESS", &[]);
    let started = trigger(&adapter, &ctx).await;
    succeeded(follow(&adapter, &ctx, &started.external_id).await);
}

#[tokio::test]
async fn logs_are_read_progressively() {
    let sim = sim();
    let lines: Vec<String> = (1..=8).map(|i| format!("step {i}")).collect();
    sim.add_job(
        "logs",
        JobSpec {
            log: lines.join("\n"),
            ..spec(800)
        },
    );
    sim.add_job("queued", blocked());
    let adapter = adapter(&sim);
    let ctx = job("run-log", "logs");
    let started = trigger(&adapter, &ctx).await;
    let (mut text, mut offset, mut chunks) = (String::new(), 0, 0);
    let begun = Instant::now();
    loop {
        assert!(
            begun.elapsed() < Duration::from_secs(10),
            "the log never completed"
        );
        let chunk = adapter
            .log(&ctx, &started.external_id, offset)
            .await
            .expect("log");
        if !chunk.text.is_empty() {
            chunks += 1;
        }
        text.push_str(&chunk.text);
        offset = chunk.next_offset;
        if chunk.complete {
            break;
        }
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    assert!(chunks >= 2, "the log came in {chunks} piece(s)");
    for line in &lines {
        assert_eq!(
            text.matches(line.as_str()).count(),
            1,
            "{line} once in {text:?}"
        );
    }
    assert!(
        text.contains("Started by user ci-bot"),
        "console notes are stripped: {text:?}"
    );
    assert!(text.trim_end().ends_with("Finished: SUCCESS"), "{text:?}");
    // A run still in the queue has an empty log that is not complete.
    let waiting = job("run-queued", "queued");
    let started = trigger(&adapter, &waiting).await;
    let chunk = adapter
        .log(&waiting, &started.external_id, 0)
        .await
        .expect("log");
    assert!(chunk.text.is_empty() && !chunk.complete);
}

#[tokio::test]
async fn cancels_queued_and_running_work() {
    let sim = sim();
    sim.add_job("queued", blocked());
    sim.add_job("running", held());
    let adapter = adapter(&sim);
    let ctx = job("run-q", "queued");
    let started = trigger(&adapter, &ctx).await;
    adapter
        .cancel(&ctx, Some(&started.external_id))
        .await
        .expect("cancel");
    let (error, _) = failed(follow(&adapter, &ctx, &started.external_id).await);
    assert!(error.contains("cancelled"), "{error}");
    assert!(
        sim.builds("queued").is_empty(),
        "a cancelled item never builds"
    );

    let ctx = job("run-r", "running");
    let started = trigger(&adapter, &ctx).await;
    let id = until_running(&adapter, &ctx, &started.external_id).await;
    adapter.cancel(&ctx, Some(&id)).await.expect("stop");
    let (error, outputs) = failed(follow(&adapter, &ctx, &id).await);
    assert_eq!(outputs["Result"], "ABORTED", "{error}");
    // Without an id, the marker names the work to cancel.
    let ctx = job("run-r2", "running");
    trigger(&adapter, &ctx).await;
    until_build(&sim, "running", 2).await;
    adapter_with(&settings(&sim, ""))
        .cancel(&ctx, None)
        .await
        .expect("cancel by marker");
    let (_, outputs) = failed(follow(&adapter, &ctx, "q3").await);
    assert_eq!(outputs["Result"], "ABORTED");
}

#[tokio::test]
async fn after_a_crash_the_marker_finds_the_work() {
    let sim = sim();
    sim.add_job("gated", blocked());
    let ctx = job("run-crash", "gated");
    let first = adapter(&sim);
    let started = trigger(&first, &ctx).await;
    // A new process knows nothing; the marker finds the queued item...
    let found = adapter(&sim)
        .find(&ctx)
        .await
        .expect("find")
        .expect("found");
    assert_eq!(found.external_id, started.external_id);
    // ...and, once it has started, the build.
    sim.release_queue("gated");
    until_build(&sim, "gated", 1).await;
    let found = adapter(&sim)
        .find(&ctx)
        .await
        .expect("find")
        .expect("found");
    assert_eq!(found.external_id, "1:1");
    assert_eq!(
        adapter(&sim)
            .find(&job("run-other", "gated"))
            .await
            .expect("find"),
        None
    );
    // A trigger whose answer was lost on the way is found, not sent again.
    let lost = job("run-lost", "gated");
    sim.lose_next_responses(1, 502);
    assert!(first.trigger(&lost).await.is_err());
    let found = first.find(&lost).await.expect("find").expect("found");
    assert_eq!(found.external_id, "q2");
    assert_eq!(sim.stats().queue_items_created.get("gated"), Some(&2));
}

#[tokio::test]
async fn without_a_marker_the_unknown_trigger_policy_decides() {
    let sim = sim();
    sim.add_job("bare", JobSpec::default());
    let ctx = job("run-bare", "bare");
    let fail = adapter(&sim).find(&ctx).await.expect_err("fail policy");
    assert!(fail.to_string().contains(MARKER), "{fail}");
    let retrigger = adapter_with(&settings(&sim, ", unknown_trigger: retrigger"));
    assert_eq!(retrigger.find(&ctx).await.expect("retrigger policy"), None);
    // This process saw the trigger refused before it arrived: nothing to look for.
    let adapter = adapter(&sim);
    assert!(
        adapter.find(&ctx).await.is_err(),
        "reads the job's parameters"
    );
    sim.fail_next(1, 503);
    assert!(adapter.trigger(&ctx).await.is_err());
    assert_eq!(adapter.find(&ctx).await.expect("known fate"), None);
}

#[tokio::test]
async fn a_forgotten_queue_item_is_found_by_queue_id() {
    let mut sim = JenkinsSim::start_with(JenkinsSimOptions {
        // Jenkins keeps left items five minutes; here they are forgotten at once.
        left_item_ttl: Duration::ZERO,
        ..options()
    })
    .expect("simulator");
    sim.add_job("slow", held());
    let adapter = adapter(&sim);
    let ctx = job("run-slow", "slow");
    let started = trigger(&adapter, &ctx).await;
    until_build(&sim, "slow", 1).await;
    let id = until_running(&adapter, &ctx, &started.external_id).await;
    assert_eq!(id, "1:1");
    // A restart forgets left items too, whatever their age.
    sim.restart().await.expect("restart");
    sim.add_job("other", held());
    let ctx = job("run-other", "other");
    let started = trigger(&adapter, &ctx).await;
    until_build(&sim, "other", 1).await;
    sim.restart().await.expect("restart");
    let id = until_running(&adapter, &ctx, &started.external_id).await;
    assert_eq!(id, "2:1");
    assert!(sim.finish("other", 1, "SUCCESS"));
    succeeded(follow(&adapter, &ctx, &id).await);
}

#[tokio::test]
async fn password_posts_carry_a_crumb_and_its_session() {
    let sim = JenkinsSim::start_with(JenkinsSimOptions {
        passwords: vec![(USER.into(), "s3cr3t-password".into())],
        ..JenkinsSimOptions::default()
    })
    .expect("simulator");
    sim.add_job("app", held());
    let settings: ServerSettings = serde_yaml::from_str(&format!(
        "{{name: jk, kind: jenkins, url: '{}', user: {USER}, token: s3cr3t-password, poll_interval: 50ms}}",
        sim.url()
    ))
    .expect("settings");
    let adapter = adapter_with(&settings);
    let ctx = job("run-crumb", "app");
    let started = trigger(&adapter, &ctx).await;
    assert_eq!(sim.stats().requests(RouteKind::Crumb), 1);
    let id = until_running(&adapter, &ctx, &started.external_id).await;
    // A restart (here: every session forgotten) makes the crumb stale: fetch a new one.
    sim.invalidate_crumbs();
    adapter
        .cancel(&ctx, Some(&id))
        .await
        .expect("stop with a fresh crumb");
    assert_eq!(sim.stats().requests(RouteKind::Crumb), 2);
    let (_, outputs) = failed(follow(&adapter, &ctx, &id).await);
    assert_eq!(outputs["Result"], "ABORTED");
}

#[tokio::test]
async fn coalesced_triggers_are_noticed() {
    let sim = sim();
    sim.add_job(
        "shared",
        JobSpec {
            parameters: vec![ParamSpec::new("BRANCH", None)],
            blocked: true,
            ..JobSpec::default()
        },
    );
    sim.add_job(
        "plain",
        JobSpec {
            blocked: true,
            ..JobSpec::default()
        },
    );
    let adapter = adapter(&sim);
    for project in ["shared", "plain"] {
        let config = [("ProjectName", project), ("Parameters", "")];
        let first = context(&format!("{project}-1"), &config);
        let second = context(&format!("{project}-2"), &config);
        let a = trigger(&adapter, &first).await;
        let b = trigger(&adapter, &second).await;
        assert_eq!(a.external_id, b.external_id, "{project}: one queue item");
        let summary = match adapter
            .status(&second, &b.external_id)
            .await
            .expect("status")
        {
            Progress::Running { summary, .. } => summary.unwrap_or_default(),
            other => panic!("{other:?}"),
        };
        assert!(summary.contains("merged"), "{project}: {summary}");
    }
    let stats = sim.stats();
    assert_eq!(stats.coalesced.get("shared"), Some(&1));
    assert_eq!(stats.coalesced.get("plain"), Some(&1));
}

#[tokio::test]
async fn reads_are_retried_and_posts_are_not() {
    let sim = sim();
    sim.add_job("app", spec(50));
    let adapter = adapter(&sim);
    let ctx = job("run-retry", "app");
    sim.fail_next(2, 502);
    let started = trigger(&adapter, &ctx).await;
    sim.throttle_next(1, Duration::from_secs(1));
    sim.fail_next(1, 503);
    succeeded(follow(&adapter, &ctx, &started.external_id).await);
    // A failed POST is reported, never sent twice.
    let before = sim.stats().requests(RouteKind::Trigger);
    sim.fail_next(1, 500);
    let error = adapter
        .trigger(&job("run-retry-2", "app"))
        .await
        .expect_err("500");
    assert!(matches!(error, AdapterError::Retryable { .. }), "{error:?}");
    assert_eq!(sim.stats().requests(RouteKind::Trigger), before + 1);
    // A dropped connection on a read is retried too.
    sim.drop_next(1);
    let chunk = adapter.log(&ctx, "1:1", 0).await.expect("log after a drop");
    assert!(chunk.complete);
}

#[tokio::test]
async fn the_queue_timeout_cancels_the_item() {
    let sim = sim();
    sim.add_job("stuck", blocked());
    let adapter = adapter_with(&settings(&sim, ", queue_timeout: 300ms"));
    let ctx = job("run-stuck", "stuck");
    let started = trigger(&adapter, &ctx).await;
    let (error, _) = failed(follow(&adapter, &ctx, &started.external_id).await);
    assert!(error.contains("queue_timeout"), "{error}");
    sim.release_queue("stuck");
    assert!(
        sim.builds("stuck").is_empty(),
        "the item was cancelled: {error}"
    );
}

#[tokio::test]
async fn the_inactivity_timeout_stops_a_silent_build() {
    let sim = sim();
    sim.add_job(
        "silent",
        JobSpec {
            log: "started, then nothing".into(),
            ..held()
        },
    );
    let adapter = adapter_with(&settings(&sim, ", inactivity_timeout: 300ms"));
    let ctx = job("run-silent", "silent");
    let started = trigger(&adapter, &ctx).await;
    let (error, _) = failed(follow(&adapter, &ctx, &started.external_id).await);
    assert!(error.contains("inactivity_timeout"), "{error}");
    let begun = Instant::now();
    while sim
        .builds("silent")
        .first()
        .is_some_and(|(_, running)| *running)
    {
        assert!(
            begun.elapsed() < Duration::from_secs(5),
            "the build was never stopped"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A callback receiver: every request it gets, as a `Callback`.
async fn receiver() -> (String, mpsc::UnboundedReceiver<Callback>) {
    let (sender, inbox) = mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/hooks/jenkins/jk",
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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!(
        "http://{}/hooks/jenkins/jk",
        listener.local_addr().expect("addr")
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, inbox)
}

#[tokio::test]
async fn notifications_wake_the_follower() {
    let sim = sim();
    let (url, mut inbox) = receiver().await;
    sim.add_job(
        "team/notify",
        JobSpec {
            notify_url: Some(format!("{url}?token=hook-secret")),
            ..spec(100)
        },
    );
    let adapter = adapter_with(&settings(&sim, ", callback: {secret: hook-secret}"));
    let ctx = job("run-hook", "team/notify");
    let started = trigger(&adapter, &ctx).await;
    let mut phases = Vec::new();
    while phases.len() < 4 {
        let callback = tokio::time::timeout(Duration::from_secs(10), inbox.recv())
            .await
            .expect("a notification")
            .expect("open channel");
        let body: serde_json::Value = serde_json::from_slice(&callback.body).expect("json");
        phases.push(
            body["build"]["phase"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
        let wakes = adapter.callback(&callback).expect("accepted");
        // QUEUED comes right before STARTED and wakes nothing; STARTED wakes soon (the
        // read may be shared); COMPLETED wakes a moment later (FINALIZED normally follows
        // first); FINALIZED wakes now.
        let expected = match phases.last().map(String::as_str) {
            Some("QUEUED") => (false, false, false),
            Some("STARTED") => (false, true, false),
            Some("COMPLETED") => (false, false, true),
            _ => (true, false, false),
        };
        let named = |keys: &Vec<String>| !keys.is_empty();
        assert_eq!(
            (named(&wakes.now), named(&wakes.soon), named(&wakes.later)),
            expected,
            "{phases:?}: {wakes:?}"
        );
        let keys = [wakes.now, wakes.soon, wakes.later].concat();
        if keys.is_empty() {
            continue;
        }
        let wake = adapter.wake_keys(&ctx, "1:1");
        assert!(
            keys.iter().all(|k| wake.contains(k)),
            "{keys:?} vs {wake:?}"
        );
        let queued = adapter.wake_keys(&ctx, &started.external_id);
        assert!(
            keys.iter().any(|k| queued.contains(k)),
            "{keys:?} vs {queued:?}"
        );
    }
    assert_eq!(phases, ["QUEUED", "STARTED", "COMPLETED", "FINALIZED"]);
    // The simulator counts a notification once its answer is back.
    let begun = Instant::now();
    while sim.stats().notifications_sent < 4 {
        assert!(
            begun.elapsed() < Duration::from_secs(5),
            "{:?}",
            sim.stats()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn concurrent_builds_are_polled_in_batches() {
    let sim = sim();
    sim.add_job("many", held());
    let adapter = Arc::new(adapter(&sim));
    const N: usize = 6;
    let mut builds = Vec::new();
    for i in 0..N {
        let ctx = job(&format!("run-many-{i}"), "many");
        let started = trigger(&adapter, &ctx).await;
        // Resolving the queue item to a build also links the build back, once.
        let id = until_running(&adapter, &ctx, &started.external_id).await;
        builds.push((ctx, id));
    }
    let before = sim.stats();
    let round: Vec<_> = builds
        .into_iter()
        .map(|(ctx, id)| {
            let adapter = adapter.clone();
            tokio::spawn(async move { adapter.status(&ctx, &id).await })
        })
        .collect();
    for task in round {
        let progress = task.await.expect("task");
        assert!(
            matches!(progress, Ok(Progress::Running { .. })),
            "{progress:?}"
        );
    }
    let after = sim.stats();
    let reads = after.requests_total - before.requests_total;
    // One poll round of N builds of one job: one `builds[…]` read, not N build reads.
    assert!(reads < N as u64, "{reads} requests for {N} builds");
    assert_eq!(
        after.requests(RouteKind::Build),
        before.requests(RouteKind::Build)
    );
}
