//! Custom action types and job workers end to end: `baton worker` runs a custom action
//! and its outputs reach a later action; a job goes to one worker only; a worker killed
//! mid-job ends in a timeout failure; continuation tokens call the worker again; worker
//! tokens are limited to their action types; definitions are checked against the type.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;

use baton::api::dto::ExecutionDetail;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::process::{Child, Command};

use crate::helpers::*;

const ADMIN: &str = "admin-token-0123456789";
const SHIPPER: &str = "shipper-token-0123456789";
const CHECKER: &str = "checker-token-0123456789";

const ACTION_TYPES: &str = r#"action_types:
  - category: Deploy
    provider: Shipper
    version: "1"
    configurationProperties:
      - {name: Environment, required: true, key: true, description: where to ship}
      - {name: ApiKey, secret: true}
    settings:
      executionUrlTemplate: "https://ship.example/runs/{ExternalExecutionId}"
  - category: Test
    provider: Checker
    version: "1"
    configurationProperties:
      - {name: Target, required: true}
jobs:
  ack_timeout: 500ms
"#;

fn config() -> String {
    format!(
        "{ACTION_TYPES}auth:\n  tokens:\n    - {{name: admin, role: admin, value: {ADMIN}}}\n    - {{name: shipper, role: worker, value: {SHIPPER}, action_types: [Deploy/Shipper/1]}}\n    - {{name: checker, role: worker, value: {CHECKER}, action_types: [Test/Checker/1]}}\n"
    )
}

async fn daemon(dir: &Path) -> Daemon {
    let mut daemon = Daemon::start(dir, &config()).await;
    daemon.token = ADMIN.to_string();
    daemon
}

fn source(repo: &str) -> String {
    format!(
        "  - name: Source\n    actions:\n      - {{name: Checkout, provider: Git, configuration: {{RepositoryUrl: \"{repo}\", BranchName: main}}}}\n"
    )
}

fn ship_action(name: &str, extra: &str) -> String {
    format!(
        "      - name: {name}\n        actionTypeId: {{category: Deploy, owner: Custom, provider: Shipper, version: \"1\"}}\n{extra}"
    )
}

/// `baton worker` for `action_type`, running `exec`, with `token`.
fn worker(daemon: &Daemon, url: &str, token: &str, action_type: &str, exec: &str) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(daemon.dir.join("workers.log"))
        .unwrap();
    Command::new(env!("CARGO_BIN_EXE_baton"))
        .args([
            "worker",
            "--action-type",
            action_type,
            "--exec",
            exec,
            "--poll-wait",
            "2",
        ])
        .env("BATON_SERVER", url)
        .env("BATON_TOKEN", token)
        .env("BATON_DATA_DIR", daemon.dir.join("no-token-here"))
        .current_dir(&daemon.dir)
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .kill_on_drop(true)
        .spawn()
        .expect("the worker starts")
}

fn action<'a>(e: &'a ExecutionDetail, stage: &str, name: &str) -> &'a baton::api::dto::ActionDto {
    e.stages
        .iter()
        .find(|s| s.name == stage)
        .and_then(|s| s.actions.iter().find(|a| a.name == name))
        .unwrap_or_else(|| panic!("no action {stage}/{name}"))
}

fn outputs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn a_custom_action_runs_through_baton_worker_and_its_outputs_flow_on() {
    let dir = tempfile::tempdir().unwrap();
    let repo = GitRepo::new(dir.path());
    let daemon = daemon(dir.path()).await;
    let yaml = format!(
        "name: ship\nstages:\n{}  - name: Deploy\n    actions:\n{}  - name: Check\n    actions:\n      - name: Probe\n        actionTypeId: {{category: Test, owner: Custom, provider: Checker, version: \"1\"}}\n        configuration: {{Target: \"#{{ShipNS.URL}}\"}}\n",
        source(&repo.url),
        ship_action(
            "Ship",
            "        namespace: ShipNS\n        configuration: {Environment: prod, ApiKey: s3cr3t-key}\n"
        ),
    );
    daemon.apply("ship", &yaml).await;
    let _shipper = worker(
        &daemon,
        &daemon.url,
        SHIPPER,
        "Deploy/Shipper/1",
        r#"echo "shipping to $BATON_CONFIG_ENVIRONMENT"; echo "a warning" >&2
key=no; [ "$BATON_CONFIG_APIKEY" = s3cr3t-key ] && key=yes
printf 'URL=https://%s.example\nKEY_OK=%s\nBATON_SUMMARY=shipped\nBATON_EXTERNAL_EXECUTION_ID=run-7\n' "$BATON_CONFIG_ENVIRONMENT" "$key" >> "$BATON_OUTPUT""#,
    );
    let _checker = worker(
        &daemon,
        &daemon.url,
        CHECKER,
        "Test/Checker/1",
        r#"echo "PROBED=$BATON_CONFIG_TARGET" >> "$BATON_OUTPUT""#,
    );

    let id = daemon.start_run("ship", json!({})).await;
    let done = daemon.wait_status(&id, "Succeeded").await;
    let ship = action(&done, "Deploy", "Ship");
    assert_eq!(
        ship.output_variables,
        outputs(&[("URL", "https://prod.example"), ("KEY_OK", "yes")])
    );
    assert_eq!(ship.summary.as_deref(), Some("shipped"));
    assert_eq!(ship.resolved_configuration["ApiKey"], "****");
    assert_eq!(ship.resolved_configuration["Environment"], "prod");
    assert_eq!(
        action(&done, "Check", "Probe").output_variables,
        outputs(&[("PROBED", "https://prod.example")])
    );

    // What the command printed is the action's log.
    let (status, log) = daemon
        .get(&format!(
            "/api/v1/executions/{id}/stages/Deploy/actions/Ship/log"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{log}");
    let text = log["text"].as_str().unwrap();
    assert!(text.contains("shipping to prod\n"), "{text}");
    assert!(text.contains("a warning\n"), "{text}");
    assert_eq!(log["complete"], true);

    // The definition read back hides the secret.
    let (status, body) = daemon.get("/api/v1/pipelines/ship").await;
    assert_eq!(status, StatusCode::OK);
    let configuration = &body["pipeline"]["stages"][1]["actions"][0]["configuration"];
    assert_eq!(configuration["ApiKey"], "****");
    assert!(!body.to_string().contains("s3cr3t-key"));
}

#[tokio::test]
async fn continuation_tokens_call_the_worker_again() {
    let dir = tempfile::tempdir().unwrap();
    let repo = GitRepo::new(dir.path());
    let daemon = daemon(dir.path()).await;
    let yaml = format!(
        "name: slow\nstages:\n{}  - name: Deploy\n    actions:\n{}",
        source(&repo.url),
        ship_action("Ship", "        configuration: {Environment: prod}\n"),
    );
    daemon.apply("slow", &yaml).await;
    let calls = dir.path().join("calls");
    let _worker = worker(
        &daemon,
        &daemon.url,
        SHIPPER,
        "Deploy/Shipper/1",
        &format!(
            r#"echo "call token=${{BATON_CONTINUATION_TOKEN:-none}}" >> {calls}
if [ -z "$BATON_CONTINUATION_TOKEN" ]; then
  printf 'BATON_CONTINUATION_TOKEN=step-2\nBATON_PERCENT_COMPLETE=50\nBATON_SUMMARY=half way\n' >> "$BATON_OUTPUT"
else
  echo "TOKEN_SEEN=$BATON_CONTINUATION_TOKEN" >> "$BATON_OUTPUT"
fi"#,
            calls = calls.display()
        ),
    );
    let id = daemon.start_run("slow", json!({})).await;
    let done = daemon.wait_status(&id, "Succeeded").await;
    assert_eq!(
        action(&done, "Deploy", "Ship").output_variables,
        outputs(&[("TOKEN_SEEN", "step-2")])
    );
    assert_eq!(
        std::fs::read_to_string(&calls).unwrap(),
        "call token=none\ncall token=step-2\n"
    );
}

#[tokio::test]
async fn two_workers_never_both_get_one_job() {
    let dir = tempfile::tempdir().unwrap();
    let repo = GitRepo::new(dir.path());
    let daemon = daemon(dir.path()).await;
    let parallel: String = (1..=4)
        .map(|n| {
            ship_action(
                &format!("Ship{n}"),
                "        configuration: {Environment: prod}\n",
            )
        })
        .collect();
    let yaml = format!(
        "name: fan\nstages:\n{}  - name: Deploy\n    actions:\n{parallel}",
        source(&repo.url)
    );
    daemon.apply("fan", &yaml).await;
    let ran = dir.path().join("ran");
    let exec = format!(r#"echo "$BATON_JOB_ID $BATON_ACTION" >> {}"#, ran.display());
    let _one = worker(&daemon, &daemon.url, SHIPPER, "Deploy/Shipper/1", &exec);
    let _two = worker(&daemon, &daemon.url, ADMIN, "Deploy/Shipper/1", &exec);
    let id = daemon.start_run("fan", json!({})).await;
    daemon.wait_status(&id, "Succeeded").await;
    let text = std::fs::read_to_string(&ran).unwrap();
    let mut actions: Vec<&str> = text.lines().map(|l| l.split(' ').nth(1).unwrap()).collect();
    actions.sort();
    assert_eq!(actions, ["Ship1", "Ship2", "Ship3", "Ship4"], "{text}");
}

async fn poll(daemon: &Daemon, token: &str, provider: &str, wait: u64) -> (StatusCode, Value) {
    let category = if provider == "Shipper" {
        "Deploy"
    } else {
        "Test"
    };
    daemon
        .request(
            Method::POST,
            "/api/v1/jobs/poll",
            Some(token),
            Some(json!({
                "actionTypeId": {"category": category, "owner": "Custom", "provider": provider, "version": "1"},
                "maxBatchSize": 1,
                "waitSeconds": wait,
            })),
        )
        .await
}

async fn job_call(
    daemon: &Daemon,
    token: &str,
    id: &str,
    call: &str,
    body: Value,
) -> (StatusCode, Value) {
    daemon
        .request(
            Method::POST,
            &format!("/api/v1/jobs/{id}/{call}"),
            Some(token),
            Some(body),
        )
        .await
}

#[tokio::test]
async fn an_unacknowledged_job_goes_to_the_next_worker_and_only_one_nonce_counts() {
    let dir = tempfile::tempdir().unwrap();
    let repo = GitRepo::new(dir.path());
    let daemon = daemon(dir.path()).await;
    let yaml = format!(
        "name: one\nstages:\n{}  - name: Deploy\n    actions:\n{}",
        source(&repo.url),
        ship_action("Ship", "        configuration: {Environment: prod}\n"),
    );
    daemon.apply("one", &yaml).await;
    let id = daemon.start_run("one", json!({})).await;

    let (status, first) = poll(&daemon, ADMIN, "Shipper", 20).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let job = first["jobs"][0].clone();
    let job_id = job["id"].as_str().unwrap().to_string();
    assert_eq!(
        job["data"]["actionConfiguration"]["configuration"]["Environment"],
        "prod"
    );
    // Nobody acknowledges it: after the ack timeout the next poll gets it, with a new nonce.
    let (status, second) = poll(&daemon, SHIPPER, "Shipper", 20).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(second["jobs"][0]["id"], job_id.as_str());
    let (old, new) = (job["nonce"].clone(), second["jobs"][0]["nonce"].clone());
    assert_ne!(old, new);

    let (status, body) = job_call(
        &daemon,
        ADMIN,
        &job_id,
        "acknowledge",
        json!({"nonce": old}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    for _ in 0..2 {
        // Acknowledging again with the right nonce (a lost answer) is fine.
        let (status, body) = job_call(
            &daemon,
            SHIPPER,
            &job_id,
            "acknowledge",
            json!({"nonce": new}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["status"], "InProgress");
    }
    // Log pieces land at their offset once, however often they are sent.
    for (offset, text, expect) in [(0, "one\n", 4), (0, "one\n", 4), (4, "two\n", 8)] {
        let body = json!({"offset": offset, "text": text});
        let (status, answer) = job_call(&daemon, SHIPPER, &job_id, "log", body).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["nextOffset"], expect);
    }
    let gap = json!({"offset": 20, "text": "lost?"});
    let (status, _) = job_call(&daemon, SHIPPER, &job_id, "log", gap).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let result = json!({"outputVariables": {"V": "1"}, "executionDetails": {"summary": "ok"}});
    for _ in 0..2 {
        let (status, body) = job_call(&daemon, SHIPPER, &job_id, "success", result.clone()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) = job_call(
        &daemon,
        SHIPPER,
        &job_id,
        "failure",
        json!({"failureDetails": {"type": "JobFailed", "message": "too late"}}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let done = daemon.wait_status(&id, "Succeeded").await;
    assert_eq!(
        action(&done, "Deploy", "Ship").output_variables,
        outputs(&[("V", "1")])
    );
    let (_, log) = daemon
        .get(&format!(
            "/api/v1/executions/{id}/stages/Deploy/actions/Ship/log?offset=4"
        ))
        .await;
    assert_eq!(log["text"], "two\n");
}

#[tokio::test]
async fn a_failure_report_fails_the_action_with_its_type() {
    let dir = tempfile::tempdir().unwrap();
    let repo = GitRepo::new(dir.path());
    let daemon = daemon(dir.path()).await;
    let yaml = format!(
        "name: bad\nstages:\n{}  - name: Deploy\n    actions:\n{}",
        source(&repo.url),
        ship_action("Ship", "        configuration: {Environment: nowhere}\n"),
    );
    daemon.apply("bad", &yaml).await;
    let _worker = worker(
        &daemon,
        &daemon.url,
        SHIPPER,
        "Deploy/Shipper/1",
        r#"echo "BATON_SUMMARY=no such environment: $BATON_CONFIG_ENVIRONMENT" >> "$BATON_OUTPUT"; exit 3"#,
    );
    let id = daemon.start_run("bad", json!({})).await;
    let done = daemon.wait_status(&id, "Failed").await;
    let error = action(&done, "Deploy", "Ship").error.clone().unwrap();
    assert_eq!(error, "JobFailed: no such environment: nowhere");
}

#[tokio::test]
async fn worker_tokens_only_work_on_their_action_types() {
    let dir = tempfile::tempdir().unwrap();
    let repo = GitRepo::new(dir.path());
    let daemon = daemon(dir.path()).await;
    let yaml = format!(
        "name: auth\nstages:\n{}  - name: Deploy\n    actions:\n{}",
        source(&repo.url),
        ship_action("Ship", "        configuration: {Environment: prod}\n"),
    );
    daemon.apply("auth", &yaml).await;
    daemon.start_run("auth", json!({})).await;

    let (status, body) = poll(&daemon, CHECKER, "Shipper", 1).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, polled) = poll(&daemon, SHIPPER, "Shipper", 20).await;
    assert_eq!(status, StatusCode::OK, "{polled}");
    let job = &polled["jobs"][0];
    let job_id = job["id"].as_str().unwrap();
    let (status, body) = job_call(
        &daemon,
        CHECKER,
        job_id,
        "acknowledge",
        json!({"nonce": job["nonce"]}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // A worker token reads nothing else and manages nothing.
    let (status, _) = daemon
        .request(Method::GET, "/api/v1/pipelines", Some(SHIPPER), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = daemon
        .request(
            Method::PUT,
            "/api/v1/action-types/Build/Packer/1",
            Some(SHIPPER),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn action_types_are_registered_listed_and_checked_against() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = daemon(dir.path()).await;
    let (status, body) = daemon
        .request(
            Method::PUT,
            "/api/v1/action-types/Build/Packer/2",
            Some(ADMIN),
            Some(json!({
                "configurationProperties": [
                    {"name": "Image", "required": true, "key": true, "secret": false, "description": "what to pack", "type": "String"},
                    {"name": "Token", "required": false, "key": false, "secret": true}
                ],
                "inputArtifactDetails": {"minimumCount": 0, "maximumCount": 1},
                "outputArtifactDetails": {"minimumCount": 0, "maximumCount": 1},
                "settings": {"entityUrlTemplate": "https://packer.example/{Config:Image}"}
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["definedIn"], "api");
    let (status, body) = daemon
        .request(
            Method::PUT,
            "/api/v1/action-types/Deploy/Shipper/1",
            Some(ADMIN),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, body) = daemon
        .request(
            Method::PUT,
            "/api/v1/action-types/Build/Dup/1",
            Some(ADMIN),
            Some(json!({"configurationProperties": [{"name": "A"}, {"name": "A"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    let (status, list) = daemon.get("/api/v1/action-types").await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let t = &t["actionType"];
            format!(
                "{}/{}/{}",
                t["category"].as_str().unwrap(),
                t["provider"].as_str().unwrap(),
                t["version"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        names,
        ["Build/Packer/2", "Deploy/Shipper/1", "Test/Checker/1"]
    );
    let (status, one) = daemon.get("/api/v1/action-types/Build/Packer/2").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        one["actionType"]["configurationProperties"][1]["secret"],
        true
    );

    // A definition is checked against its type, each problem at its place.
    let yaml = "name: packs\nstages:\n  - name: Source\n    actions:\n      - {name: Checkout, provider: Git, configuration: {RepositoryUrl: 'file:///x', BranchName: main}}\n  - name: Build\n    actions:\n      - name: Pack\n        actionTypeId: {category: Build, owner: Custom, provider: Packer, version: \"2\"}\n        configuration:\n          Colour: red\n";
    let response = reqwest::Client::new()
        .put(format!("{}/api/v1/pipelines/packs", daemon.url))
        .bearer_auth(ADMIN)
        .header("content-type", "application/yaml")
        .body(yaml)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    let details: Vec<&str> = body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    assert_eq!(
        details,
        [
            "packs:9:66: Build.Pack: action type Build/Packer/2 requires configuration.Image",
            "packs:11:11: Build.Pack: action type Build/Packer/2 has no configuration property `Colour` (it has: Image, Token)",
        ],
        "{body}"
    );

    // Registered types survive a restart.
    let mut daemon = daemon;
    daemon.restart().await;
    let (status, _) = daemon.get("/api/v1/action-types/Build/Packer/2").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_worker_killed_mid_job_ends_in_a_timeout_failure() {
    let dir = tempfile::tempdir().unwrap();
    let repo = GitRepo::new(dir.path());
    let daemon = start_in_process(dir.path(), ACTION_TYPES).await;
    let yaml = format!(
        "name: killed\nstages:\n{}  - name: Deploy\n    actions:\n{}",
        source(&repo.url),
        ship_action(
            "Ship",
            "        timeoutInMinutes: 10\n        configuration: {Environment: prod}\n"
        ),
    );
    daemon.apply("killed", yaml).await;
    let id = daemon.start_run("killed").await;

    let mark = dir.path().join("job");
    let mut child = Command::new(env!("CARGO_BIN_EXE_baton"))
        .args([
            "worker",
            "--action-type",
            "Deploy/Shipper/1",
            "--poll-wait",
            "2",
            "--exec",
        ])
        .arg(format!(
            "echo \"$BATON_JOB_ID\" > {}; exec sleep 20",
            mark.display()
        ))
        .env("BATON_SERVER", &daemon.url)
        .env("BATON_TOKEN", &daemon.token)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let job_id = loop {
        let text = std::fs::read_to_string(&mark).unwrap_or_default();
        if text.ends_with('\n') {
            break text.trim().to_string();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the worker never ran the job"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    child.kill().await.unwrap();

    daemon.clock.advance(chrono::Duration::minutes(11));
    daemon.runtime.clock_moved();
    let failed = daemon
        .wait(&id, "the action to time out", |e| e["status"] == "Failed")
        .await;
    let error = failed["stages"][1]["actions"][0]["error"].as_str().unwrap();
    assert!(
        error.contains("timed out") || error.contains("timeout"),
        "{error}"
    );

    // The worker's result, had it come late, is refused.
    let late = daemon
        .http
        .post(format!("{}/api/v1/jobs/{job_id}/success", daemon.url))
        .bearer_auth(&daemon.token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(late.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn a_worker_rides_out_a_daemon_restart_without_losing_or_repeating_its_job() {
    let dir = tempfile::tempdir().unwrap();
    let repo = GitRepo::new(dir.path());
    // A fixed port, so the worker finds the daemon again after the restart.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut daemon =
        Daemon::start_listening(dir.path(), &format!("127.0.0.1:{port}"), &config(), &[]).await;
    daemon.token = ADMIN.to_string();
    let yaml = format!(
        "name: steady\nstages:\n{}  - name: Deploy\n    actions:\n{}",
        source(&repo.url),
        ship_action("Ship", "        configuration: {Environment: prod}\n"),
    );
    daemon.apply("steady", &yaml).await;
    let (ran, gate) = (dir.path().join("ran"), dir.path().join("gate"));
    let _worker = worker(
        &daemon,
        &daemon.url,
        SHIPPER,
        "Deploy/Shipper/1",
        &format!(
            "echo \"$BATON_JOB_ID\" >> {ran}; while [ ! -e {gate} ]; do sleep 0.05; done; echo DONE=yes >> \"$BATON_OUTPUT\"",
            ran = ran.display(),
            gate = gate.display()
        ),
    );
    let id = daemon.start_run("steady", json!({})).await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while std::fs::read_to_string(&ran).unwrap_or_default().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the worker never ran the job"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // The daemon dies while the job runs, and the result is ready before it is back.
    daemon.kill9().await;
    std::fs::write(&gate, "").unwrap();
    daemon.restart().await;
    daemon.token = ADMIN.to_string();

    let done = daemon.wait_status(&id, "Succeeded").await;
    assert_eq!(
        action(&done, "Deploy", "Ship").output_variables,
        outputs(&[("DONE", "yes")])
    );
    assert_eq!(
        std::fs::read_to_string(&ran).unwrap().lines().count(),
        1,
        "the job ran once"
    );
}
