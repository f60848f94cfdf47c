//! `kill -9` at the worst moments: while an approval waits, while a CI action runs, and
//! between "trigger sent" and "trigger recorded". After each restart the execution goes on
//! where it was, and no action run ever triggers its CI build twice.

use std::time::Duration;

use serde_json::json;

use crate::helpers::*;

fn pipeline(repo: &str) -> String {
    format!(
        r##"name: crashy
stages:
  - name: Source
    actions:
      - {{name: Checkout, provider: Git, configuration: {{RepositoryUrl: "{repo}", BranchName: main}}}}
  - name: Build
    actions:
      - {{name: Compile, provider: Scripted, namespace: B, configuration: {{Server: ci, Outcome: HOLD}}}}
  - name: Approve
    actions:
      - {{name: Gate, provider: Manual}}
  - name: Deploy
    actions:
      - {{name: Ship, provider: Scripted, configuration: {{Server: ci, Version: "#{{B.Version}}"}}}}
"##
    )
}

#[tokio::test]
async fn a_killed_daemon_resumes_without_triggering_anything_twice() {
    let dir = tempfile::tempdir().unwrap();
    let ci = baton::sim::scripted::ScriptedCi::start().unwrap();
    let repo = GitRepo::new(dir.path());
    let mut daemon = Daemon::start(dir.path(), &scripted_server("ci", &ci.url())).await;
    daemon.apply("crashy", &pipeline(&repo.url)).await;
    let id = daemon.start_run("crashy", json!({})).await;

    // In the middle of a CI action.
    let running = daemon
        .wait_until(&id, "Compile triggered", |e| {
            e.stages[1].actions[0].external_execution_id.is_some()
        })
        .await;
    let compile = run_id(&running, "Build", "Compile");
    daemon.kill9().await;
    daemon.restart().await;
    assert_eq!(daemon.execution(&id).await.summary.status, "InProgress");
    assert!(ci.release(&compile, true, vec![("Version", "1.2.3")]));

    // While an approval waits.
    daemon
        .wait_action(&id, "Approve", "Gate", "InProgress")
        .await;
    daemon.kill9().await;
    daemon.restart().await;
    let waiting = daemon.execution(&id).await;
    assert_eq!(
        action_status(&waiting, "Approve", "Gate"),
        Some("InProgress")
    );
    let deadline_before = waiting.stages[2].actions[0].deadline;

    // Between "trigger sent" and "trigger recorded": the CI server takes the trigger but
    // the answer is lost, and the daemon dies before it can look for the build.
    ci.lose_next_responses(1, 502);
    let (status, body) = daemon
        .post(
            &format!("/api/v1/executions/{id}/stages/Approve/actions/Gate/approval"),
            json!({"approved": true, "comment": "go"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let patience = tokio::time::Instant::now() + PATIENCE;
    while ci.runs().iter().all(|r| r.job != "Ship") {
        assert!(
            tokio::time::Instant::now() < patience,
            "Ship was never triggered"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    daemon.kill9().await;
    daemon.restart().await;

    let done = daemon.wait_status(&id, "Succeeded").await;
    assert_eq!(done.stages[2].actions[0].deadline, deadline_before);
    let ship = &done.stages[3].actions[0];
    assert_eq!(ship.resolved_configuration["Version"], "1.2.3");
    for run in ci.runs() {
        assert_eq!(
            ci.triggers(&run.key),
            1,
            "{} triggered more than once",
            run.key
        );
    }
    assert_eq!(
        ci.total_triggers(),
        2,
        "one build per CI action run: {:#?}",
        ci.runs()
    );
}

#[tokio::test]
async fn sigterm_stops_cleanly_and_the_next_start_carries_on() {
    let dir = tempfile::tempdir().unwrap();
    let ci = baton::sim::scripted::ScriptedCi::start().unwrap();
    let repo = GitRepo::new(dir.path());
    let mut daemon = Daemon::start(dir.path(), &scripted_server("ci", &ci.url())).await;
    daemon.apply("crashy", &pipeline(&repo.url)).await;
    let id = daemon.start_run("crashy", json!({})).await;
    let running = daemon
        .wait_until(&id, "Compile triggered", |e| {
            e.stages[1].actions[0].external_execution_id.is_some()
        })
        .await;
    assert!(daemon.terminate().await, "exit status 0 on SIGTERM");
    ci.release(
        &run_id(&running, "Build", "Compile"),
        true,
        vec![("Version", "9")],
    );
    daemon.restart().await;
    daemon
        .wait_action(&id, "Approve", "Gate", "InProgress")
        .await;
    assert_eq!(ci.total_triggers(), 1);
}
