//! The daemon against the TeamCity simulator: builds queued with resolved properties,
//! their outputs feeding a later action, webhooks that only wake the follower, stop and
//! abandon cancelling the build, a lost trigger answer followed by `kill -9` that never
//! queues a second build, and a flaky server that still ends every execution right.

use std::time::Duration;

use baton::sim::teamcity::{BuildTypeSpec, TeamCitySim, TeamCitySimOptions};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

const TOKEN: &str = "tc-daemon-test-token-0123456789";
const SECRET: &str = "tc-callback-secret-0123456789";

async fn teamcity() -> TeamCitySim {
    TeamCitySim::start_with(TeamCitySimOptions {
        token: Some(TOKEN.into()),
        ..TeamCitySimOptions::default()
    })
    .expect("the TeamCity simulator starts")
}

/// Daemon config lines for the simulator as server `tc`; `extra` adds indented keys.
fn server(sim: &TeamCitySim, extra: &str) -> String {
    format!(
        "servers:\n  - name: tc\n    kind: teamcity\n    url: {}\n    token: {TOKEN}\n    \
         poll_interval: 100ms\n    max_poll_interval: 300ms\n    callback:\n      secret: {SECRET}\n{extra}",
        sim.url()
    )
}

fn webhook(daemon: &Daemon) -> String {
    format!("{}/hooks/teamcity/tc?token={SECRET}", daemon.url)
}

fn pipeline(repo: &str) -> String {
    format!(
        r##"name: backend
stages:
  - name: Source
    actions:
      - {{name: Checkout, provider: Git, namespace: Src, configuration: {{RepositoryUrl: "{repo}", BranchName: main}}}}
  - name: Build
    actions:
      - name: Compile
        provider: TeamCity
        namespace: Tc
        configuration:
          Server: tc
          BuildType: Backend_Build
          Branch: main
          OutputParameters: build.vcs.number
          Properties: {{env.COMMIT: "#{{Src.CommitId}}", system.channel: stable}}
  - name: Deploy
    actions:
      - name: Ship
        provider: TeamCity
        configuration:
          Server: tc
          BuildType: Backend_Deploy
          Properties: {{VCS_NUMBER: "#{{Tc.build.vcs.number}}", BUILD: "#{{Tc.BuildNumber}}"}}
"##
    )
}

fn build_type(webhook: Option<String>) -> BuildTypeSpec {
    BuildTypeSpec {
        duration: Duration::from_millis(300),
        resulting_properties: vec![("build.vcs.number".into(), "4711".into())],
        log: "compiling\nlinking\n".into(),
        webhook_url: webhook,
        ..BuildTypeSpec::default()
    }
}

fn property<'a>(build: &'a baton::sim::teamcity::BuildView, name: &str) -> Option<&'a str> {
    build.properties.get(name).map(String::as_str)
}

#[tokio::test]
async fn builds_run_with_resolved_properties_and_outputs_flow_to_the_next_stage() {
    let dir = tempfile::tempdir().unwrap();
    let repo = GitRepo::new(dir.path());
    let tc = teamcity().await;
    let daemon = Daemon::start(dir.path(), &server(&tc, "")).await;
    tc.add_build_type("Backend_Build", build_type(Some(webhook(&daemon))));
    tc.add_build_type("Backend_Deploy", build_type(Some(webhook(&daemon))));
    daemon.apply("backend", &pipeline(&repo.url)).await;

    let id = daemon.start_run("backend", json!({})).await;
    let done = daemon.wait_status(&id, "Succeeded").await;

    let compile = &done.stages[1].actions[0];
    assert_eq!(compile.output_variables["build.vcs.number"], "4711");
    assert_eq!(compile.output_variables["Status"], "SUCCESS");
    let url = compile.external_execution_url.as_deref().unwrap();
    assert!(url.starts_with(&tc.url()), "{url}");

    let builds = tc.builds();
    assert_eq!(builds.len(), 2, "{builds:#?}");
    let head = &done.stages[0].actions[0].output_variables["CommitId"];
    assert_eq!(property(&builds[0], "env.COMMIT"), Some(head.as_str()));
    assert_eq!(property(&builds[0], "system.channel"), Some("stable"));
    assert_eq!(builds[0].branch.as_deref(), Some("main"));
    assert_eq!(property(&builds[1], "VCS_NUMBER"), Some("4711"));
    assert_eq!(
        property(&builds[1], "BUILD"),
        builds[0].number.as_deref(),
        "the build number of the first build flows to the second"
    );
    let stats = tc.stats();
    assert_eq!(stats.triggers_per_build_type["Backend_Build"], 1);
    assert_eq!(stats.triggers_per_build_type["Backend_Deploy"], 1);
    assert!(stats.webhooks_sent > 0, "the builds called back: {stats:?}");
}

/// A daemon with an execution whose Build stage runs a build that waits for
/// `TeamCitySim::finish`.
async fn a_held_build(dir: &std::path::Path) -> (TeamCitySim, Daemon, String) {
    let repo = GitRepo::new(dir);
    let tc = teamcity().await;
    let daemon = Daemon::start(dir, &server(&tc, "")).await;
    let held = BuildTypeSpec {
        hold: true,
        ..build_type(None)
    };
    tc.add_build_type("Backend_Build", held);
    tc.add_build_type("Backend_Deploy", build_type(None));
    daemon.apply("backend", &pipeline(&repo.url)).await;
    let id = daemon.start_run("backend", json!({})).await;
    (tc, daemon, id)
}

#[tokio::test]
async fn webhooks_need_the_secret_and_cannot_decide_a_build() {
    let dir = tempfile::tempdir().unwrap();
    let (tc, daemon, id) = a_held_build(dir.path()).await;
    let running = daemon
        .wait_until(&id, "the build to run", |e| {
            e.stages[1].actions[0].external_execution_id.is_some()
        })
        .await;
    let build_id: u64 = running.stages[1].actions[0]
        .external_execution_id
        .as_deref()
        .unwrap()
        .parse()
        .unwrap();

    // A forged "finished with failure" for the running build, with and without the secret.
    let forged = json!({
        "eventType": "BUILD_FINISHED",
        "payload": {"id": build_id, "buildTypeId": "Backend_Build", "state": "finished",
                    "status": "FAILURE", "statusText": "forged"}
    });
    let anonymous = format!("{}/hooks/teamcity/tc", daemon.url);
    assert_eq!(
        post_callback(&anonymous, &forged).await,
        StatusCode::UNAUTHORIZED
    );
    let accepted = post_callback(&webhook(&daemon), &forged).await;
    assert!(accepted.is_success(), "{accepted}");
    let still = daemon.execution(&id).await;
    assert_eq!(
        action_status(&still, "Build", "Compile"),
        Some("InProgress")
    );

    assert!(tc.finish(build_id, "SUCCESS", "Success"));
    daemon.wait_status(&id, "Succeeded").await;
}

#[tokio::test]
async fn stop_and_abandon_cancels_the_running_build() {
    let dir = tempfile::tempdir().unwrap();
    let (tc, daemon, id) = a_held_build(dir.path()).await;
    daemon
        .wait_until(&id, "the build to run", |_| {
            tc.builds().iter().any(|b| b.state == "running")
        })
        .await;

    let stopped = daemon.stop_and_abandon(&id, "wrong branch").await;
    assert_eq!(
        action_status(&stopped, "Build", "Compile"),
        Some("Abandoned")
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let build = tc.builds().remove(0);
        if build.state == "finished" {
            let canceled = build.canceled_info.expect("the build was canceled");
            assert!(
                canceled
                    .text
                    .as_deref()
                    .unwrap_or("")
                    .contains("wrong branch")
                    || canceled.text.as_deref().unwrap_or("").contains(&id),
                "the cancel says why: {canceled:?}"
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not canceled: {build:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(tc.stats().triggers_per_build_type["Backend_Build"], 1);
}

#[tokio::test]
async fn a_lost_trigger_answer_and_a_kill_never_queue_a_second_build() {
    let dir = tempfile::tempdir().unwrap();
    let repo = GitRepo::new(dir.path());
    let tc = teamcity().await;
    let mut daemon = Daemon::start(dir.path(), &server(&tc, "")).await;
    tc.add_build_type("Backend_Build", build_type(None));
    tc.add_build_type("Backend_Deploy", build_type(None));
    daemon.apply("backend", &pipeline(&repo.url)).await;

    // The trigger reaches TeamCity and queues the build, but its answer is lost; the
    // daemon is killed right after, before it can learn anything more.
    tc.lose_next_responses(1, 502);
    let id = daemon.start_run("backend", json!({})).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while tc.builds().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no build queued");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    daemon.kill9().await;
    daemon.restart().await;

    let done = daemon.wait_status(&id, "Succeeded").await;
    let stats = tc.stats();
    assert_eq!(
        stats.triggers_per_build_type["Backend_Build"], 1,
        "{stats:?}"
    );
    assert_eq!(
        stats.triggers_per_build_type["Backend_Deploy"], 1,
        "{stats:?}"
    );
    let compile = &done.stages[1].actions[0];
    assert_eq!(
        compile.external_execution_id.as_deref(),
        Some(tc.builds()[0].id.to_string().as_str())
    );
}

#[tokio::test]
async fn a_flaky_server_within_its_rate_limit_still_ends_every_execution_once() {
    let dir = tempfile::tempdir().unwrap();
    let repo = GitRepo::new(dir.path());
    let tc = teamcity().await;
    let limit = "    rate_limit: {per_second: 15, burst: 5}\n";
    let daemon = Daemon::start(dir.path(), &server(&tc, limit)).await;
    tc.add_build_type("Backend_Build", build_type(Some(webhook(&daemon))));
    tc.add_build_type("Backend_Deploy", build_type(Some(webhook(&daemon))));
    daemon
        .apply(
            "backend",
            &pipeline(&repo.url).replace("name: backend", "name: backend\nexecutionMode: PARALLEL"),
        )
        .await;

    tc.fault_rate(20, 5, 7);
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(daemon.start_run("backend", json!({})).await);
    }
    for id in &ids {
        let done = daemon
            .wait_until(id, "a final status", |e| {
                matches!(e.summary.status.as_str(), "Succeeded" | "Failed")
            })
            .await;
        // A trigger whose answer is lost to a fault is found again by its marker, or,
        // if TeamCity never queued it, fails the action with a message that says so;
        // either way nothing runs twice.
        if done.summary.status == "Failed" {
            let failed = done
                .stages
                .iter()
                .flat_map(|s| &s.actions)
                .find(|a| a.status.as_deref() == Some("Failed"))
                .unwrap();
            assert!(
                failed.error.is_some() || failed.summary.is_some(),
                "{failed:?}"
            );
        }
    }
    tc.fault_rate(0, 0, 0);
    let stats = tc.stats();
    let builds = tc.builds();
    let runs: std::collections::BTreeSet<_> = builds
        .iter()
        .filter_map(|b| property(b, baton::adapters::teamcity::MARKER))
        .collect();
    assert_eq!(
        runs.len(),
        builds.len(),
        "one build per action run: {builds:#?}"
    );
    assert!(
        stats.max_requests_per_second <= 15 + 5,
        "rate limit held: {stats:?}"
    );
}
