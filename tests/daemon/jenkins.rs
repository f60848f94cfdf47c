//! The daemon against the Jenkins simulator: parameterized and plain jobs in folders with
//! a property file feeding a later action, result mapping, logs followed while a build
//! runs, stop and abandon on a queued and on a running build, `kill -9` between trigger
//! and record, callbacks that wake (and forged ones that change nothing), and a flaky
//! server behind a rate limit that still ends every execution with one build per run.

use std::time::Duration;

use baton::sim::jenkins::{JenkinsSim, JenkinsSimOptions, JobSpec, ParamSpec};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

const USER: &str = "baton";
const TOKEN: &str = "11aaaabbbbccccddddeeeeffff000011";
const SECRET: &str = "jenkins-callback-secret-0123456789";

fn jenkins() -> JenkinsSim {
    JenkinsSim::start_with(JenkinsSimOptions {
        users: vec![(USER.into(), TOKEN.into())],
        ..JenkinsSimOptions::default()
    })
    .expect("the Jenkins simulator starts")
}

/// Daemon config lines for the simulator as server `jk`; `extra` adds indented keys.
fn server(sim: &JenkinsSim, extra: &str) -> String {
    format!(
        "servers:\n  - name: jk\n    kind: jenkins\n    url: {}\n    user: {USER}\n    token: {TOKEN}\n    \
         poll_interval: 100ms\n    max_poll_interval: 300ms\n    callback:\n      secret: {SECRET}\n{extra}",
        sim.url()
    )
}

fn callback_url(daemon: &Daemon) -> String {
    format!("{}/hooks/jenkins/jk?token={SECRET}", daemon.url)
}

/// The simulator's own JSON for `path` (`job/a/job/b/1/api/json`, …), read as any
/// Jenkins client would.
async fn jenkins_json(sim: &JenkinsSim, path: &str) -> serde_json::Value {
    let response = reqwest::Client::new()
        .get(format!("{}{path}", sim.url()))
        .basic_auth(USER, Some(TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.json().await.unwrap()
}

/// The parameters a build ran with, from its `ParametersAction`.
async fn parameters(sim: &JenkinsSim, build: &str) -> std::collections::BTreeMap<String, String> {
    let json = jenkins_json(sim, &format!("{build}api/json")).await;
    json["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|action| action["parameters"].as_array().into_iter().flatten())
        .filter_map(|p| {
            Some((
                p["name"].as_str()?.to_string(),
                p["value"].as_str()?.to_string(),
            ))
        })
        .collect()
}

/// Whether the action's Jenkins work became a build: its external id turns from the
/// queue item's `q{queue id}` into `{queue id}:{build number}`.
fn is_a_build(action: &baton::api::dto::ActionDto) -> bool {
    action
        .external_execution_id
        .as_deref()
        .is_some_and(|id| id.contains(':'))
}

fn marker() -> ParamSpec {
    ParamSpec::new(baton::adapters::jenkins::MARKER, None)
}

fn pipeline(repo: &str) -> String {
    format!(
        r##"name: web
stages:
  - name: Source
    actions:
      - {{name: Checkout, provider: Git, namespace: Src, configuration: {{RepositoryUrl: "{repo}", BranchName: main}}}}
  - name: Build
    actions:
      - name: Compile
        provider: Jenkins
        namespace: Build
        configuration:
          Server: jk
          ProjectName: team/web/build
          Parameters: {{COMMIT: "#{{Src.CommitId}}"}}
          PropertyFile: build.properties
  - name: Deploy
    actions:
      - name: Ship
        provider: Jenkins
        configuration:
          Server: jk
          ProjectName: team/web/deploy
          Parameters: {{VERSION: "#{{Build.Version}}", BUILD: "#{{Build.BuildNumber}}"}}
      - name: Smoke
        provider: Jenkins
        configuration: {{Server: jk, ProjectName: team/smoke}}
"##
    )
}

/// The jobs of `pipeline`: a parameterized build publishing `build.properties`, a
/// parameterized deploy, and a plain job without parameters.
fn add_jobs(sim: &JenkinsSim, duration: Duration, notify: Option<String>) {
    sim.add_job(
        "team/web/build",
        JobSpec {
            parameters: vec![ParamSpec::new("COMMIT", None), marker()],
            duration,
            log: "compiling\npackaging\n".into(),
            artifacts: vec![("build.properties".into(), "Version=2.0.1\n".into())],
            notify_url: notify.clone(),
            ..JobSpec::default()
        },
    );
    sim.add_job(
        "team/web/deploy",
        JobSpec {
            parameters: vec![
                ParamSpec::new("VERSION", None),
                ParamSpec::new("BUILD", None),
                marker(),
            ],
            duration,
            notify_url: notify.clone(),
            ..JobSpec::default()
        },
    );
    sim.add_job(
        "team/smoke",
        JobSpec {
            duration,
            notify_url: notify,
            ..JobSpec::default()
        },
    );
}

#[tokio::test]
async fn jobs_in_folders_run_and_a_property_file_feeds_the_next_stage() {
    let dir = tempfile::tempdir().unwrap();
    let repo = GitRepo::new(dir.path());
    let jk = jenkins();
    let daemon = Daemon::start(dir.path(), &server(&jk, "")).await;
    add_jobs(&jk, Duration::from_millis(200), Some(callback_url(&daemon)));
    daemon.apply("web", &pipeline(&repo.url)).await;

    let id = daemon.start_run("web", json!({})).await;
    let done = daemon.wait_status(&id, "Succeeded").await;

    let compile = &done.stages[1].actions[0];
    assert_eq!(compile.output_variables["Version"], "2.0.1");
    assert_eq!(compile.output_variables["Result"], "SUCCESS");
    assert_eq!(compile.output_variables["BuildNumber"], "1");
    let url = compile.external_execution_url.as_deref().unwrap();
    assert!(
        url.starts_with(&jk.url()) && url.contains("/job/team/job/web/job/build/1"),
        "{url}"
    );

    let head = &done.stages[0].actions[0].output_variables["CommitId"];
    let build = parameters(&jk, "/job/team/job/web/job/build/1/").await;
    assert_eq!(build.get("COMMIT"), Some(head));
    assert_eq!(
        build.get(baton::adapters::jenkins::MARKER),
        compile.run_id.as_ref(),
        "the marker carries the action run"
    );
    let deploy = parameters(&jk, "/job/team/job/web/job/deploy/1/").await;
    assert_eq!(deploy.get("VERSION").map(String::as_str), Some("2.0.1"));
    assert_eq!(deploy.get("BUILD").map(String::as_str), Some("1"));
    let description = jenkins_json(&jk, "/job/team/job/web/job/build/1/api/json").await;
    assert!(
        description["description"]
            .as_str()
            .unwrap_or("")
            .contains(&id),
        "the build links back to the execution: {}",
        description["description"]
    );
    let stats = jk.stats();
    for job in ["team/web/build", "team/web/deploy", "team/smoke"] {
        assert_eq!(stats.triggers_of(job), 1, "{job}: {stats:?}");
        assert_eq!(stats.builds_started_of(job), 1, "{job}: {stats:?}");
    }
}

#[tokio::test]
async fn results_map_to_outcomes_that_say_which() {
    let dir = tempfile::tempdir().unwrap();
    let repo = GitRepo::new(dir.path());
    let jk = jenkins();
    let daemon = Daemon::start(dir.path(), &server(&jk, "")).await;
    for (job, result) in [("unstable", "UNSTABLE"), ("broken", "FAILURE")] {
        jk.add_job(
            job,
            JobSpec {
                result: result.into(),
                ..JobSpec::default()
            },
        );
    }
    let yaml = format!(
        r##"name: results
stages:
  - name: Source
    actions:
      - {{name: Checkout, provider: Git, configuration: {{RepositoryUrl: "{}", BranchName: main}}}}
  - name: Test
    actions:
      - {{name: Tolerant, provider: Jenkins, configuration: {{Server: jk, ProjectName: unstable, UnstableAsSuccess: "true"}}}}
      - {{name: Strict, provider: Jenkins, configuration: {{Server: jk, ProjectName: unstable}}}}
      - {{name: Broken, provider: Jenkins, configuration: {{Server: jk, ProjectName: broken}}}}
"##,
        repo.url
    );
    daemon.apply("results", &yaml).await;
    let id = daemon.start_run("results", json!({})).await;
    let done = daemon.wait_status(&id, "Failed").await;
    assert_eq!(action_status(&done, "Test", "Tolerant"), Some("Succeeded"));
    for (action, result) in [("Strict", "UNSTABLE"), ("Broken", "FAILURE")] {
        assert_eq!(action_status(&done, "Test", action), Some("Failed"));
        let detail = done.stages[1]
            .actions
            .iter()
            .find(|a| a.name == action)
            .unwrap();
        let said = format!("{:?} {:?}", detail.summary, detail.error);
        assert!(said.contains(result), "{action} says {result}: {said}");
    }
}

#[tokio::test]
async fn logs_are_followed_while_the_build_runs() {
    let dir = tempfile::tempdir().unwrap();
    let repo = GitRepo::new(dir.path());
    let jk = jenkins();
    let daemon = Daemon::start(dir.path(), &server(&jk, "")).await;
    add_jobs(&jk, Duration::from_millis(100), None);
    jk.add_job(
        "team/web/build",
        JobSpec {
            parameters: vec![ParamSpec::new("COMMIT", None), marker()],
            hold: true,
            log: "step one\nstep two\n".into(),
            artifacts: vec![("build.properties".into(), "Version=2.0.1\n".into())],
            ..JobSpec::default()
        },
    );
    daemon.apply("web", &pipeline(&repo.url)).await;
    let id = daemon.start_run("web", json!({})).await;
    daemon
        .wait_until(&id, "the build to start", |e| {
            is_a_build(&e.stages[1].actions[0])
        })
        .await;

    let path = format!("/api/v1/executions/{id}/stages/Build/actions/Compile/log");
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let (status, body) = daemon.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if body.to_string().contains("step two") {
            assert_eq!(body["complete"], json!(false), "{body}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no log: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    assert!(jk.finish("team/web/build", 1, "SUCCESS"));
    daemon.wait_status(&id, "Succeeded").await;
    let logs = daemon
        .cli(&["run", "logs", &id, "Build", "Compile"])
        .await
        .ok();
    assert!(logs.stdout.contains("step one"), "{}", logs.stdout);
    assert!(logs.stdout.contains("Finished: SUCCESS"), "{}", logs.stdout);
}

#[tokio::test]
async fn stop_and_abandon_cancels_a_queued_and_a_running_build() {
    let dir = tempfile::tempdir().unwrap();
    let repo = GitRepo::new(dir.path());
    let jk = jenkins();
    let daemon = Daemon::start(dir.path(), &server(&jk, "")).await;
    jk.add_job(
        "queued",
        JobSpec {
            blocked: true,
            ..JobSpec::default()
        },
    );
    jk.add_job(
        "running",
        JobSpec {
            hold: true,
            ..JobSpec::default()
        },
    );
    let yaml = format!(
        r##"name: stoppable
stages:
  - name: Source
    actions:
      - {{name: Checkout, provider: Git, configuration: {{RepositoryUrl: "{}", BranchName: main}}}}
  - name: Work
    actions:
      - {{name: Waiting, provider: Jenkins, configuration: {{Server: jk, ProjectName: queued}}}}
      - {{name: Busy, provider: Jenkins, configuration: {{Server: jk, ProjectName: running}}}}
"##,
        repo.url
    );
    daemon.apply("stoppable", &yaml).await;
    let id = daemon.start_run("stoppable", json!({})).await;
    daemon
        .wait_until(&id, "both to be under way", |e| {
            e.stages[1]
                .actions
                .iter()
                .all(|a| a.external_execution_id.is_some())
                && is_a_build(&e.stages[1].actions[1])
        })
        .await;

    let stopped = daemon.stop_and_abandon(&id, "not today").await;
    assert_eq!(
        action_status(&stopped, "Work", "Waiting"),
        Some("Abandoned")
    );
    assert_eq!(action_status(&stopped, "Work", "Busy"), Some("Abandoned"));
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let queue = jenkins_json(&jk, "/queue/api/json").await;
        let cancelled = queue["items"].as_array().is_some_and(Vec::is_empty);
        let running = jenkins_json(&jk, "/job/running/1/api/json").await;
        let aborted = running["result"] == json!("ABORTED");
        if cancelled && aborted {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "queue item cancelled: {cancelled}, build aborted: {aborted}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stats = jk.stats();
    assert_eq!(stats.builds_started_of("queued"), 0, "{stats:?}");
    assert_eq!(stats.triggers_of("queued"), 1, "{stats:?}");
}

#[tokio::test]
async fn a_kill_between_trigger_and_record_never_builds_twice() {
    let dir = tempfile::tempdir().unwrap();
    let repo = GitRepo::new(dir.path());
    let jk = jenkins();
    let mut daemon = Daemon::start(dir.path(), &server(&jk, "")).await;
    add_jobs(&jk, Duration::from_millis(200), None);
    daemon.apply("web", &pipeline(&repo.url)).await;

    // The trigger is queued by Jenkins but its answer is lost, and the daemon dies right
    // after: nothing it stored says where the build went.
    jk.lose_next_responses(1, 502);
    let id = daemon.start_run("web", json!({})).await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while jk.stats().triggers_of("team/web/build") == 0 {
        assert!(tokio::time::Instant::now() < deadline, "never triggered");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    daemon.kill9().await;
    daemon.restart().await;

    daemon.wait_status(&id, "Succeeded").await;
    let stats = jk.stats();
    assert_eq!(stats.triggers_of("team/web/build"), 1, "{stats:?}");
    assert_eq!(stats.builds_started_of("team/web/build"), 1, "{stats:?}");
    assert_eq!(stats.triggers_of("team/web/deploy"), 1, "{stats:?}");
}

#[tokio::test]
async fn callbacks_wake_the_follower_and_forged_ones_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let repo = GitRepo::new(dir.path());
    let jk = jenkins();
    // Polling so slow that only callbacks can finish the execution within the test.
    let slow = "    poll_interval: 1h\n    max_poll_interval: 1h\n";
    let config = server(&jk, "").replace(
        "    poll_interval: 100ms\n    max_poll_interval: 300ms\n",
        slow,
    );
    let daemon = Daemon::start(dir.path(), &config).await;
    add_jobs(&jk, Duration::from_millis(100), Some(callback_url(&daemon)));
    jk.add_job(
        "team/smoke",
        JobSpec {
            hold: true,
            notify_url: Some(callback_url(&daemon)),
            ..JobSpec::default()
        },
    );
    daemon.apply("web", &pipeline(&repo.url)).await;
    let id = daemon.start_run("web", json!({})).await;
    daemon
        .wait_until(&id, "the smoke test to start", |e| {
            is_a_build(&e.stages[2].actions[1])
        })
        .await;

    // A plain callback claiming the held build failed: with the wrong secret it is
    // refused, with the right one it only makes the follower look, and Jenkins says the
    // build still runs.
    let forged =
        json!({"source": "jenkins", "job": "team/smoke", "number": 1, "result": "FAILURE"});
    let wrong = format!("{}/hooks/jenkins/jk?token=wrong", daemon.url);
    assert_eq!(
        post_callback(&wrong, &forged).await,
        StatusCode::UNAUTHORIZED
    );
    let accepted = post_callback(&callback_url(&daemon), &forged).await;
    assert!(accepted.is_success(), "{accepted}");
    let still = daemon.execution(&id).await;
    assert_eq!(action_status(&still, "Deploy", "Smoke"), Some("InProgress"));

    assert!(jk.finish("team/smoke", 1, "SUCCESS"));
    daemon.wait_status(&id, "Succeeded").await;
    assert!(jk.stats().notifications_sent > 0);
}

#[tokio::test]
async fn a_build_followed_by_its_notifications_costs_jenkins_four_requests() {
    let dir = tempfile::tempdir().unwrap();
    let repo = GitRepo::new(dir.path());
    let jk = jenkins();
    // No polls within the test: the notifications alone drive the follower.
    let config = server(&jk, "").replace(
        "    poll_interval: 100ms\n    max_poll_interval: 300ms\n",
        "    poll_interval: 1h\n    max_poll_interval: 1h\n",
    );
    let daemon = Daemon::start(dir.path(), &config).await;
    jk.add_job(
        "team/held",
        JobSpec {
            hold: true,
            parameters: vec![marker()],
            notify_url: Some(callback_url(&daemon)),
            ..JobSpec::default()
        },
    );
    let pipeline = format!(
        r##"name: lean
stages:
  - name: Source
    actions:
      - {{name: Checkout, provider: Git, configuration: {{RepositoryUrl: "{}", BranchName: main}}}}
  - name: Build
    actions:
      - {{name: Held, provider: Jenkins, configuration: {{Server: jk, ProjectName: team/held}}}}
"##,
        repo.url
    );
    daemon.apply("lean", &pipeline).await;
    let mut costs = Vec::new();
    for number in 1..=2 {
        let before = jk.stats();
        let id = daemon.start_run("lean", json!({})).await;
        // QUEUED and STARTED come as the build starts; one list read finds it by queue id.
        daemon
            .wait_until(&id, "the build number to be known", |e| {
                is_a_build(&e.stages[1].actions[0])
            })
            .await;
        assert!(jk.finish("team/held", number, "SUCCESS"));
        daemon.wait_status(&id, "Succeeded").await;
        let after = jk.stats();
        let count = |kind: &str| {
            let seen = |stats: &baton::sim::jenkins::SimStats| {
                stats.requests_by_kind.get(kind).copied().unwrap_or(0)
            };
            seen(&after) - seen(&before)
        };
        costs.push((
            count("trigger"),
            count("job"),
            count("description"),
            after.requests_total - before.requests_total,
        ));
    }
    // Each build: the trigger, the list reads woken by STARTED and FINALIZED, the
    // backlink; no queue item, single build or test report read. The first build also
    // reads the job's parameters (kept for a while).
    assert_eq!(costs, [(1, 3, 1, 5), (1, 2, 1, 4)]);
}

#[tokio::test]
async fn a_flaky_server_within_its_rate_limit_still_ends_every_execution_once() {
    let dir = tempfile::tempdir().unwrap();
    let repo = GitRepo::new(dir.path());
    let jk = jenkins();
    let limit = "    rate_limit: {per_second: 15, burst: 5}\n";
    let daemon = Daemon::start(dir.path(), &server(&jk, limit)).await;
    add_jobs(&jk, Duration::from_millis(200), Some(callback_url(&daemon)));
    let yaml = pipeline(&repo.url).replace("name: web", "name: web\nexecutionMode: PARALLEL");
    daemon.apply("web", &yaml).await;

    jk.fault_rate(20, 5);
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(daemon.start_run("web", json!({})).await);
    }
    let mut succeeded = 0;
    for id in &ids {
        let done = daemon
            .wait_until(id, "a final status", |e| {
                matches!(e.summary.status.as_str(), "Succeeded" | "Failed")
            })
            .await;
        succeeded += usize::from(done.summary.status == "Succeeded");
    }
    jk.fault_rate(0, 0);
    let stats = jk.stats();
    // Every trigger Jenkins accepted became exactly one build of one action run.
    for job in ["team/web/build", "team/web/deploy", "team/smoke"] {
        assert_eq!(
            stats.triggers_of(job),
            stats.builds_started_of(job),
            "{job}: {stats:?}"
        );
    }
    assert!(
        stats.triggers_of("team/web/build") <= 4,
        "at most one build per run: {stats:?}"
    );
    assert!(
        succeeded > 0,
        "faults at this rate leave most executions alone"
    );
    assert!(
        stats.max_requests_in_any_second <= 15 + 5,
        "rate limit held: {stats:?}"
    );
}
