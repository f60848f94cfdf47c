//! Whole pipelines run to their end: git source, approvals, CI actions, variables.

use serde_json::json;

use crate::helpers::*;

fn git_and_approval(repo: &str) -> String {
    format!(
        r##"name: release
stages:
  - name: Source
    actions:
      - name: Checkout
        provider: Git
        namespace: Src
        configuration:
          RepositoryUrl: {repo}
          BranchName: main
        outputArtifacts: [Code]
  - name: Approve
    actions:
      - name: Gate
        provider: Manual
        configuration:
          CustomData: "Ship #{{Src.CommitId}}?"
          ExternalEntityLink: "https://review.example/#{{codepipeline.PipelineExecutionId}}"
"##
    )
}

#[tokio::test]
async fn git_source_and_manual_approval_run_to_succeeded_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let repo = GitRepo::new(dir.path());
    let head = repo.push_commit("feature");
    let daemon = Daemon::start(dir.path(), "").await;
    let file = dir.path().join("release.yaml");
    std::fs::write(&file, git_and_approval(&repo.url)).unwrap();

    let applied = daemon
        .cli(&["pipeline", "apply", file.to_str().unwrap()])
        .await
        .ok();
    assert!(applied.stdout.contains("version 1"), "{}", applied.stdout);
    let started = daemon.cli(&["run", "start", "release"]).await.ok();
    let id = started.stdout.trim().to_string();

    let waiting = daemon
        .wait_action(&id, "Approve", "Gate", "InProgress")
        .await;
    let source = &waiting.stages[0].actions[0];
    assert_eq!(source.output_variables["CommitId"], head);
    let gate = &waiting.stages[1].actions[0];
    assert_eq!(
        gate.summary.as_deref(),
        Some(format!("Ship {head}?").as_str())
    );
    assert_eq!(
        gate.external_execution_url.as_deref(),
        Some(format!("https://review.example/{id}").as_str())
    );

    daemon
        .cli(&["approve", &id, "Approve", "Gate", "--comment", "looks good"])
        .await
        .ok();
    let done = daemon.wait_status(&id, "Succeeded").await;
    let gate = &done.stages[1].actions[0];
    assert_eq!(gate.approvals.len(), 1);
    assert_eq!(gate.approvals[0].by, "admin");
    assert_eq!(gate.approvals[0].comment.as_deref(), Some("looks good"));

    let json = daemon.cli(&["run", "get", &id, "-o", "json"]).await.ok();
    let parsed: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(parsed["status"], "Succeeded");
    let listed = daemon.cli(&["run", "list", "release"]).await.ok();
    assert!(listed.stdout.contains(&id) && listed.stdout.contains("Succeeded"));
}

#[tokio::test]
async fn run_start_wait_exits_zero_only_on_success() {
    let dir = tempfile::tempdir().unwrap();
    let ci = baton::sim::scripted::ScriptedCi::start().unwrap();
    let repo = GitRepo::new(dir.path());
    let daemon = Daemon::start(dir.path(), &scripted_server("ci", &ci.url())).await;
    let pipeline = |name: &str, outcome: &str| {
        format!(
            r##"name: {name}
stages:
  - name: Source
    actions:
      - {{name: Checkout, provider: Git, configuration: {{RepositoryUrl: "{}", BranchName: main}}}}
  - name: Build
    actions:
      - {{name: Compile, provider: Scripted, configuration: {{Server: ci, Outcome: {outcome}, Error: "compiler said no"}}}}
"##,
            repo.url
        )
    };
    daemon.apply("good", &pipeline("good", "SUCCEEDED")).await;
    daemon.apply("bad", &pipeline("bad", "FAILED")).await;

    let good = daemon.cli(&["run", "start", "good", "--wait"]).await;
    assert_eq!(good.code, 0, "{}{}", good.stdout, good.stderr);
    assert!(good.stdout.contains("Succeeded"), "{}", good.stdout);
    let bad = daemon.cli(&["run", "start", "bad", "--wait"]).await;
    assert_eq!(bad.code, 1, "{}{}", bad.stdout, bad.stderr);
    assert!(
        bad.stdout.contains("compiler said no") || bad.stderr.contains("compiler said no"),
        "{}{}",
        bad.stdout,
        bad.stderr
    );
}

#[tokio::test]
async fn variables_resolve_from_pipeline_execution_and_earlier_actions() {
    let dir = tempfile::tempdir().unwrap();
    let ci = baton::sim::scripted::ScriptedCi::start().unwrap();
    let repo = GitRepo::new(dir.path());
    let head = repo.push_commit("v2");
    let daemon = Daemon::start(dir.path(), &scripted_server("ci", &ci.url())).await;
    let yaml = format!(
        r##"name: vars
variables:
  - {{name: Env, defaultValue: staging}}
  - {{name: Region, defaultValue: eu-west-1}}
stages:
  - name: Source
    actions:
      - {{name: Checkout, provider: Git, namespace: Src, configuration: {{RepositoryUrl: "{url}", BranchName: main}}}}
  - name: Build
    actions:
      - name: Compile
        provider: Scripted
        namespace: Build
        configuration:
          Server: ci
          Outputs: "Image=app:#{{Src.CommitId}},build.vcs.number=42"
  - name: Deploy
    actions:
      - name: Rollout
        provider: Scripted
        configuration:
          Server: ci
          Target: "#{{variables.Env}}/#{{variables.Region}}"
          Image: "#{{Build.Image}}"
          Vcs: "#{{Build.build.vcs.number}}"
          Execution: "#{{codepipeline.PipelineExecutionId}}"
      - name: Broken
        runOrder: 2
        provider: Scripted
        configuration:
          Server: ci
          Missing: "#{{Build.NoSuchOutput}}"
"##,
        url = repo.url
    );
    daemon.apply("vars", &yaml).await;
    let id = daemon.start_run("vars", json!({"Env": "production"})).await;
    let done = daemon.wait_status(&id, "Failed").await;

    let rollout = ci
        .runs()
        .into_iter()
        .find(|r| r.job == "Rollout")
        .expect("Rollout was triggered");
    assert_eq!(rollout.parameters["Target"], "production/eu-west-1");
    assert_eq!(rollout.parameters["Image"], format!("app:{head}"));
    assert_eq!(rollout.parameters["Vcs"], "42");
    assert_eq!(rollout.parameters["Execution"], id);

    let broken = &done.stages[2].actions[1];
    assert_eq!(broken.status.as_deref(), Some("Failed"));
    assert!(
        broken
            .error
            .as_deref()
            .unwrap()
            .contains("#{Build.NoSuchOutput}"),
        "{:?}",
        broken.error
    );
    assert!(
        ci.runs().iter().all(|r| r.job != "Broken"),
        "an unresolvable action never reaches CI"
    );
    assert_eq!(done.variables["Env"], "production");
    assert_eq!(done.variables["Region"], "eu-west-1");

    let (status, body) = daemon
        .post(
            "/api/v1/pipelines/vars/executions",
            json!({"variables": {"Nope": "x"}}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("Nope"));
}
