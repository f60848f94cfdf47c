//! Steering executions: stage transitions, stop (wait and abandon), retry (failed
//! actions and all actions).

use serde_json::json;

use crate::helpers::*;

fn ci_pipeline(name: &str, repo: &str) -> String {
    format!(
        r##"name: {name}
stages:
  - name: Source
    actions:
      - {{name: Checkout, provider: Git, configuration: {{RepositoryUrl: "{repo}", BranchName: main}}}}
  - name: Build
    actions:
      - {{name: Unit, provider: Scripted, configuration: {{Server: ci, Outcome: HOLD}}}}
      - {{name: Lint, provider: Scripted, configuration: {{Server: ci, Outcome: HOLD}}}}
  - name: Deploy
    actions:
      - {{name: Ship, provider: Scripted, configuration: {{Server: ci}}}}
"##
    )
}

struct Setup {
    _dir: tempfile::TempDir,
    ci: baton::sim::scripted::ScriptedCi,
    daemon: Daemon,
}

async fn setup(name: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let ci = baton::sim::scripted::ScriptedCi::start().unwrap();
    let repo = GitRepo::new(dir.path());
    let daemon = Daemon::start(dir.path(), &scripted_server("ci", &ci.url())).await;
    daemon.apply(name, &ci_pipeline(name, &repo.url)).await;
    Setup {
        _dir: dir,
        ci,
        daemon,
    }
}

async fn triggered(setup: &Setup, id: &str, stage: &str, action: &str) -> String {
    let detail = setup
        .daemon
        .wait_until(id, &format!("{stage}/{action} triggered"), |e| {
            e.stages
                .iter()
                .find(|s| s.name == stage)
                .and_then(|s| s.actions.iter().find(|a| a.name == action))
                .is_some_and(|a| {
                    a.external_execution_id.is_some() && a.status.as_deref() == Some("InProgress")
                })
        })
        .await;
    run_id(&detail, stage, action)
}

#[tokio::test]
async fn a_disabled_transition_holds_executions_until_enabled() {
    let s = setup("gated").await;
    let disabled = s
        .daemon
        .cli(&[
            "transition",
            "disable",
            "gated",
            "Build",
            "--reason",
            "freeze",
        ])
        .await
        .ok();
    drop(disabled);
    let id = s.daemon.start_run("gated", json!({})).await;
    let waiting = s
        .daemon
        .wait_until(&id, "waiting at Build", |e| {
            e.waiting && e.current_stage.as_deref() == Some("Build")
        })
        .await;
    assert_eq!(stage_status(&waiting, "Source"), Some("Succeeded"));
    assert_eq!(stage_status(&waiting, "Build"), None);
    assert_eq!(s.ci.total_triggers(), 0);
    let (_, detail) = s.daemon.get("/api/v1/pipelines/gated").await;
    assert_eq!(detail["transitions"][0]["reason"], "freeze");
    assert_eq!(detail["transitions"][0]["enabled"], false);

    // Disabling needs a reason.
    let (status, _) = s
        .daemon
        .post(
            "/api/v1/pipelines/gated/stages/Build/transition",
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(status, 400);

    s.daemon
        .cli(&["transition", "enable", "gated", "Build"])
        .await
        .ok();
    triggered(&s, &id, "Build", "Unit").await;
}

#[tokio::test]
async fn stop_and_wait_lets_running_actions_finish() {
    let s = setup("stopwait").await;
    let id = s.daemon.start_run("stopwait", json!({})).await;
    let unit = triggered(&s, &id, "Build", "Unit").await;
    let lint = triggered(&s, &id, "Build", "Lint").await;

    s.daemon
        .cli(&["run", "stop", &id, "--reason", "wrong branch"])
        .await
        .ok();
    let stopping = s.daemon.wait_status(&id, "Stopping").await;
    assert_eq!(
        action_status(&stopping, "Build", "Unit"),
        Some("InProgress")
    );
    // A second stop-and-wait is refused; only abandon may follow.
    let again = s.daemon.cli(&["run", "stop", &id]).await;
    assert_ne!(again.code, 0);

    assert!(s.ci.release(&unit, true, Vec::<(String, String)>::new()));
    assert!(s.ci.release(&lint, true, Vec::<(String, String)>::new()));
    let stopped = s.daemon.wait_status(&id, "Stopped").await;
    assert_eq!(stage_status(&stopped, "Build"), Some("Stopped"));
    assert_eq!(action_status(&stopped, "Build", "Unit"), Some("Succeeded"));
    assert_eq!(stage_status(&stopped, "Deploy"), None, "nothing new starts");
    assert_eq!(stopped.stop_reason.as_deref(), Some("wrong branch"));
    assert!(!s.ci.cancelled(&unit));
}

#[tokio::test]
async fn stop_and_abandon_abandons_actions_and_cancels_their_builds() {
    let s = setup("abandon").await;
    let id = s.daemon.start_run("abandon", json!({})).await;
    let unit = triggered(&s, &id, "Build", "Unit").await;
    let lint = triggered(&s, &id, "Build", "Lint").await;

    s.daemon
        .cli(&["run", "stop", &id, "--abandon", "--reason", "bad"])
        .await
        .ok();
    let stopped = s.daemon.wait_status(&id, "Stopped").await;
    assert_eq!(action_status(&stopped, "Build", "Unit"), Some("Abandoned"));
    assert_eq!(action_status(&stopped, "Build", "Lint"), Some("Abandoned"));
    assert_eq!(stage_status(&stopped, "Build"), Some("Stopped"));

    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !(s.ci.cancelled(&unit) && s.ci.cancelled(&lint)) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the CI builds were never cancelled"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn retry_failed_actions_reruns_only_what_failed() {
    let s = setup("retry1").await;
    let id = s.daemon.start_run("retry1", json!({})).await;
    let unit = triggered(&s, &id, "Build", "Unit").await;
    let lint = triggered(&s, &id, "Build", "Lint").await;
    s.ci.release(&unit, true, vec![("Report".to_string(), "ok".to_string())]);
    s.ci.release(&lint, false, Vec::<(String, String)>::new());
    let failed = s.daemon.wait_status(&id, "Failed").await;
    assert_eq!(stage_status(&failed, "Build"), Some("Failed"));

    s.daemon.cli(&["run", "retry", &id, "Build"]).await.ok();
    let lint2 = s
        .daemon
        .wait_until(&id, "Lint re-run", |e| {
            let a = &e.stages[1].actions[1];
            a.attempt == 2 && a.external_execution_id.is_some()
        })
        .await;
    let lint2 = run_id(&lint2, "Build", "Lint");
    assert_ne!(lint2, lint, "a retry is a new run with a new key");
    s.ci.release(&lint2, true, Vec::<(String, String)>::new());
    let done = s.daemon.wait_status(&id, "Succeeded").await;
    let unit_run = &done.stages[1].actions[0];
    assert_eq!(unit_run.attempt, 1, "the succeeded action was not re-run");
    assert_eq!(unit_run.output_variables["Report"], "ok");
    assert_eq!(done.stages[1].attempt, 2);
    assert_eq!(s.ci.triggers(&unit), 1);
    assert_eq!(s.ci.runs().iter().filter(|r| r.job == "Unit").count(), 1);
    assert_eq!(s.ci.runs().iter().filter(|r| r.job == "Lint").count(), 2);
}

#[tokio::test]
async fn retry_all_actions_reruns_the_whole_stage() {
    let s = setup("retry2").await;
    let id = s.daemon.start_run("retry2", json!({})).await;
    let unit = triggered(&s, &id, "Build", "Unit").await;
    let lint = triggered(&s, &id, "Build", "Lint").await;
    s.ci.release(&unit, true, Vec::<(String, String)>::new());
    s.ci.release(&lint, false, Vec::<(String, String)>::new());
    s.daemon.wait_status(&id, "Failed").await;

    // A succeeded or running execution cannot be retried; a stage that did not fail neither.
    let (status, _) = s
        .daemon
        .post(
            &format!("/api/v1/executions/{id}/stages/Source/retry"),
            json!({}),
        )
        .await;
    assert_eq!(status, 409);

    s.daemon
        .cli(&["run", "retry", &id, "Build", "--all-actions"])
        .await
        .ok();
    let rerun = s
        .daemon
        .wait_until(&id, "both re-run", |e| {
            e.stages[1]
                .actions
                .iter()
                .all(|a| a.attempt == 2 && a.external_execution_id.is_some())
        })
        .await;
    s.ci.release(
        &run_id(&rerun, "Build", "Unit"),
        true,
        Vec::<(String, String)>::new(),
    );
    s.ci.release(
        &run_id(&rerun, "Build", "Lint"),
        true,
        Vec::<(String, String)>::new(),
    );
    s.daemon.wait_status(&id, "Succeeded").await;
    assert_eq!(s.ci.runs().iter().filter(|r| r.job == "Unit").count(), 2);
    assert_eq!(s.ci.runs().iter().filter(|r| r.job == "Lint").count(), 2);
}
