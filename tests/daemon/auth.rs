//! Who may do what: every state-changing route answers 401 without a valid token and 403
//! to a token whose role is too low; reads need the read role unless opened.

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

const READER: &str = "reader-token-0123456789abcdef";
const OPERATOR: &str = "operator-token-0123456789abcdef";
const ADMIN: &str = "admin-token-0123456789abcdef-xyz";

fn tokens() -> String {
    format!(
        "auth:\n  tokens:\n    - {{name: rita, role: read, value: {READER}}}\n    - {{name: otto, role: operate, value: {OPERATOR}}}\n    - {{name: ada, role: admin, value: {ADMIN}}}\n"
    )
}

/// Every route that changes state, with the role it needs.
fn state_changing(id: &str) -> Vec<(Method, String, &'static str)> {
    vec![
        (Method::PUT, "/api/v1/pipelines/p".into(), "admin"),
        (Method::DELETE, "/api/v1/pipelines/p".into(), "admin"),
        (
            Method::POST,
            "/api/v1/pipelines/p/executions".into(),
            "operate",
        ),
        (
            Method::POST,
            "/api/v1/pipelines/p/stages/Hold/transition".into(),
            "operate",
        ),
        (
            Method::POST,
            format!("/api/v1/executions/{id}/stop"),
            "operate",
        ),
        (
            Method::POST,
            format!("/api/v1/executions/{id}/stages/Hold/retry"),
            "operate",
        ),
        (
            Method::POST,
            format!("/api/v1/executions/{id}/stages/Hold/actions/Gate/approval"),
            "operate",
        ),
    ]
}

#[tokio::test]
async fn state_changing_routes_need_a_token_of_the_right_role() {
    let dir = tempfile::tempdir().unwrap();
    let repo = GitRepo::new(dir.path());
    let mut daemon = Daemon::start(dir.path(), &tokens()).await;
    daemon.token = ADMIN.to_string();
    assert!(
        !dir.path().join("data/admin.token").exists(),
        "no generated token when tokens are configured"
    );
    let yaml = format!(
        "name: p\nstages:\n  - name: Source\n    actions:\n      - {{name: S, provider: Git, configuration: {{RepositoryUrl: \"{}\", BranchName: main}}}}\n  - name: Hold\n    actions:\n      - {{name: Gate, provider: Manual}}\n",
        repo.url
    );
    daemon.apply("p", &yaml).await;
    let id = daemon.start_run("p", json!({})).await;
    daemon.wait_action(&id, "Hold", "Gate", "InProgress").await;
    let before = daemon.execution(&id).await;

    for (method, path, role) in state_changing(&id) {
        for (token, label) in [
            (None, "no token"),
            (Some("not-a-real-token-at-all-000"), "a wrong token"),
        ] {
            let (status, body) = daemon
                .request(method.clone(), &path, token, Some(json!({})))
                .await;
            assert_eq!(status, 401, "{method} {path} with {label}: {body}");
            assert_eq!(body["error"]["code"], "unauthorized");
        }
        let (status, body) = daemon
            .request(method.clone(), &path, Some(READER), Some(json!({})))
            .await;
        assert_eq!(status, 403, "{method} {path} as reader: {body}");
        if role == "admin" {
            let (status, body) = daemon
                .request(method.clone(), &path, Some(OPERATOR), Some(json!({})))
                .await;
            assert_eq!(status, 403, "{method} {path} as operator: {body}");
        }
    }
    // Nothing was changed by any refused call.
    let after = daemon.execution(&id).await;
    assert_eq!(after.updated_at, before.updated_at);

    // Reads need a token (reads were not opened), and any role may read.
    let (status, _) = daemon
        .request(Method::GET, "/api/v1/pipelines", None, None)
        .await;
    assert_eq!(status, 401);
    let (status, _) = daemon
        .request(Method::GET, "/api/v1/pipelines", Some(READER), None)
        .await;
    assert_eq!(status, 200);
    // Health, readiness and metrics are open.
    for path in ["/healthz", "/readyz", "/metrics", "/api/v1/openapi.json"] {
        let (status, _) = daemon.request(Method::GET, path, None, None).await;
        assert_eq!(status, 200, "{path}");
    }

    // The operator may approve; the approver is recorded by token name.
    let (status, body) = daemon
        .request(
            Method::POST,
            &format!("/api/v1/executions/{id}/stages/Hold/actions/Gate/approval"),
            Some(OPERATOR),
            Some(json!({"approved": true})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let done = daemon.wait_status(&id, "Succeeded").await;
    assert_eq!(done.stages[1].actions[0].approvals[0].by, "otto");

    // The CLI says clearly when a token is missing.
    let cli = daemon.cli_with_token(&["run", "start", "p"], None).await;
    assert_eq!(cli.code, 2);
    assert!(
        cli.stderr.to_lowercase().contains("token"),
        "{}",
        cli.stderr
    );
    assert!(!daemon.log().contains(ADMIN), "tokens never reach the log");
}

#[tokio::test]
async fn open_reads_let_anyone_read_but_not_write() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path(), "auth:\n  open_reads: true\n").await;
    let (status, _) = daemon
        .request(Method::GET, "/api/v1/pipelines", None, None)
        .await;
    assert_eq!(status, 200);
    let (status, _) = daemon
        .request(Method::DELETE, "/api/v1/pipelines/x", None, None)
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn the_generated_admin_token_is_private_and_found_by_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path(), "").await;
    let file = dir.path().join("data/admin.token");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_baton"));
    let output = command
        .args(["pipeline", "list"])
        .env("BATON_SERVER", &daemon.url)
        .env_remove("BATON_TOKEN")
        .env("BATON_DATA_DIR", dir.path().join("data"))
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
