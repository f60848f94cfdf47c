//! Execution modes, shown with several executions each: SUPERSEDED replaces the one
//! waiting, QUEUED keeps arrival order, PARALLEL runs side by side.

use serde_json::json;

use crate::helpers::*;

/// Source → Hold (a manual approval that keeps each execution in the stage) → Done.
fn held(name: &str, mode: &str, repo: &str) -> String {
    format!(
        r##"name: {name}
executionMode: {mode}
stages:
  - name: Source
    actions:
      - {{name: Checkout, provider: Git, configuration: {{RepositoryUrl: "{repo}", BranchName: main}}}}
  - name: Hold
    actions:
      - {{name: Gate, provider: Manual}}
  - name: Done
    actions:
      - {{name: Last, provider: Manual}}
"##
    )
}

async fn approve(daemon: &Daemon, id: &str, stage: &str, action: &str) {
    let (status, body) = daemon
        .post(
            &format!("/api/v1/executions/{id}/stages/{stage}/actions/{action}/approval"),
            json!({"approved": true}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

async fn waiting_at(daemon: &Daemon, id: &str, stage: &str) {
    daemon
        .wait_until(id, &format!("waiting in front of {stage}"), |e| {
            e.waiting && e.current_stage.as_deref() == Some(stage)
        })
        .await;
}

#[tokio::test]
async fn superseded_mode_replaces_the_execution_waiting_at_a_locked_stage() {
    let dir = tempfile::tempdir().unwrap();
    let repo = GitRepo::new(dir.path());
    let daemon = Daemon::start(dir.path(), "").await;
    daemon
        .apply("sup", &held("sup", "SUPERSEDED", &repo.url))
        .await;

    let first = daemon.start_run("sup", json!({})).await;
    daemon
        .wait_action(&first, "Hold", "Gate", "InProgress")
        .await;
    let second = daemon.start_run("sup", json!({})).await;
    waiting_at(&daemon, &second, "Hold").await;
    let third = daemon.start_run("sup", json!({})).await;
    waiting_at(&daemon, &third, "Hold").await;

    let superseded = daemon.wait_status(&second, "Superseded").await;
    assert!(superseded.summary.status_summary.unwrap().contains(&third));
    // The one inside the stage is never superseded.
    assert_eq!(daemon.execution(&first).await.summary.status, "InProgress");

    approve(&daemon, &first, "Hold", "Gate").await;
    daemon
        .wait_action(&third, "Hold", "Gate", "InProgress")
        .await;
    approve(&daemon, &first, "Done", "Last").await;
    daemon.wait_status(&first, "Succeeded").await;
    approve(&daemon, &third, "Hold", "Gate").await;
    approve(&daemon, &third, "Done", "Last").await;
    daemon.wait_status(&third, "Succeeded").await;
}

#[tokio::test]
async fn queued_mode_passes_each_stage_one_at_a_time_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let repo = GitRepo::new(dir.path());
    let daemon = Daemon::start(dir.path(), "").await;
    daemon
        .apply("fifo", &held("fifo", "QUEUED", &repo.url))
        .await;

    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(daemon.start_run("fifo", json!({})).await);
    }
    daemon
        .wait_action(&ids[0], "Hold", "Gate", "InProgress")
        .await;
    waiting_at(&daemon, &ids[1], "Hold").await;
    waiting_at(&daemon, &ids[2], "Hold").await;

    for (n, id) in ids.iter().enumerate() {
        let inside = daemon.wait_action(id, "Hold", "Gate", "InProgress").await;
        assert_eq!(inside.summary.status, "InProgress");
        for later in &ids[n + 1..] {
            let detail = daemon.execution(later).await;
            assert!(detail.waiting, "{later} must still wait behind {id}");
            assert_eq!(detail.summary.status, "InProgress", "none is superseded");
        }
        approve(&daemon, id, "Hold", "Gate").await;
    }
    for id in &ids {
        approve(&daemon, id, "Done", "Last").await;
        daemon.wait_status(id, "Succeeded").await;
    }
}

#[tokio::test]
async fn parallel_mode_runs_executions_side_by_side() {
    let dir = tempfile::tempdir().unwrap();
    let repo = GitRepo::new(dir.path());
    let daemon = Daemon::start(dir.path(), "").await;
    daemon
        .apply("par", &held("par", "PARALLEL", &repo.url))
        .await;

    let ids = [
        daemon.start_run("par", json!({})).await,
        daemon.start_run("par", json!({})).await,
        daemon.start_run("par", json!({})).await,
    ];
    for id in &ids {
        daemon.wait_action(id, "Hold", "Gate", "InProgress").await;
    }
    // The newest finishes first; the others are not affected.
    approve(&daemon, &ids[2], "Hold", "Gate").await;
    approve(&daemon, &ids[2], "Done", "Last").await;
    daemon.wait_status(&ids[2], "Succeeded").await;
    for id in &ids[..2] {
        assert_eq!(daemon.execution(id).await.summary.status, "InProgress");
    }
}
