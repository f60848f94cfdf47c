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

fn servers() -> &'static str {
    // One server of each callback kind, named after its kind so that a hook path
    // `/hooks/{kind}/{server}` names a configured server. Nothing is ever sent to them.
    "servers:\n  - {name: jenkins, kind: jenkins, url: \"http://127.0.0.1:9\", callback: {secret: jenkins-hook-secret-0123456789}}\n  \
     - {name: teamcity, kind: teamcity, url: \"http://127.0.0.1:9\", callback: {secret: teamcity-hook-secret-0123456789}}\n"
}

/// One operation of the daemon's OpenAPI document.
struct Route {
    method: Method,
    template: String,
    /// The role its bearer security requirement names; `None` for open routes and hooks.
    role: Option<String>,
    /// Declared open (`security: [{}]`): system routes and CI callbacks.
    open: bool,
}

/// Every operation the daemon serves, read from its own OpenAPI document, which the router
/// is built from: a route added to the router is in this list without anyone editing it.
async fn routes(daemon: &Daemon) -> Vec<Route> {
    let (status, doc) = daemon
        .request(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(status, 200);
    let mut routes = Vec::new();
    for (template, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().unwrap() {
            let Ok(method) = method.to_uppercase().parse::<Method>() else {
                continue;
            };
            let security = operation["security"]
                .as_array()
                .unwrap_or_else(|| panic!("{method} {template} declares no security"));
            let open = security.iter().any(|s| s.as_object().unwrap().is_empty());
            let role = security.iter().find_map(|s| {
                s["bearer"]
                    .as_array()?
                    .first()?
                    .as_str()
                    .map(str::to_string)
            });
            assert!(
                open || role.is_some(),
                "{method} {template} must declare the role it needs: security((\"bearer\" = [\"read\"|\"operate\"|\"admin\"|\"worker\"]))"
            );
            routes.push(Route {
                method,
                template: template.clone(),
                role,
                open,
            });
        }
    }
    routes
}

/// The route's path with its parameters filled from `values` (anything else gets `x`).
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut path = template.to_string();
    while let Some(start) = path.find('{') {
        let end = start + path[start..].find('}').unwrap();
        let name = &path[start + 1..end];
        let value = values
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("x", |(_, v)| *v);
        path.replace_range(start..=end, value);
    }
    path
}

fn is_state_changing(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

#[tokio::test]
async fn every_route_in_the_openapi_document_needs_a_token_of_its_role() {
    let dir = tempfile::tempdir().unwrap();
    let repo = GitRepo::new(dir.path());
    let mut daemon = Daemon::start(dir.path(), &format!("{}{}", tokens(), servers())).await;
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
    let (_, pipeline_before) = daemon.get("/api/v1/pipelines/p").await;

    let routes = routes(&daemon).await;
    let existing = [
        ("name", "p"),
        ("id", id.as_str()),
        ("stage", "Hold"),
        ("action", "Gate"),
    ];
    let missing = [
        ("name", "no-such-pipeline"),
        ("id", "no-such-execution"),
        ("stage", "NoStage"),
        ("action", "NoAction"),
    ];
    let ranked = [("read", READER), ("operate", OPERATOR), ("admin", ADMIN)];
    let mut checked_writes = 0;
    for route in &routes {
        let (method, template) = (&route.method, &route.template);
        if template.starts_with("/hooks/") {
            assert!(
                route.open,
                "{method} {template}: hooks use their own secret"
            );
            // `/hooks/{kind}/{server}`: the server of that kind configured above; the git
            // hook names the pipeline.
            let kind = template.split('/').nth(2).unwrap();
            let path = fill(template, &[("server", kind), ("pipeline", "p")]);
            for token in [None, Some(ADMIN)] {
                let (status, body) = daemon
                    .request(method.clone(), &path, token, Some(json!({"build": {}})))
                    .await;
                assert_eq!(status, 401, "{method} {path} without its secret: {body}");
            }
            continue;
        }
        let Some(role) = &route.role else {
            assert!(
                !is_state_changing(method),
                "{method} {template} changes state, so it needs a role"
            );
            continue;
        };
        // A worker route is for worker tokens of its action type and for admins; the
        // other roles are refused (worker tokens are checked in `workers.rs`).
        let rank = ranked
            .iter()
            .position(|(name, _)| name == role)
            .or((role == "worker").then_some(2))
            .unwrap_or_else(|| panic!("{method} {template}: unknown role {role}"));
        if is_state_changing(method) {
            assert!(
                rank > 0,
                "{method} {template} changes state with the read role"
            );
            checked_writes += 1;
        }
        let path = fill(template, &existing);
        let body = is_state_changing(method).then(|| json!({}));
        for (token, label) in [
            (None, "no token"),
            (Some("not-a-real-token-at-all-000"), "a wrong token"),
        ] {
            let (status, answer) = daemon
                .request(method.clone(), &path, token, body.clone())
                .await;
            assert_eq!(status, 401, "{method} {path} with {label}: {answer}");
            assert_eq!(answer["error"]["code"], "unauthorized");
        }
        for (lower, token) in &ranked[..rank] {
            let (status, answer) = daemon
                .request(method.clone(), &path, Some(token), body.clone())
                .await;
            assert_eq!(status, 403, "{method} {path} as {lower}: {answer}");
            assert_eq!(answer["error"]["code"], "forbidden");
        }
        // The role the document names is enough; asked about things that do not exist,
        // so nothing changes.
        let path = fill(template, &missing);
        let (status, answer) = daemon
            .request(method.clone(), &path, Some(ranked[rank].1), body.clone())
            .await;
        assert!(
            status != 401 && status != 403 && !status.is_server_error(),
            "{method} {path} as {role}: {status} {answer}"
        );
    }
    assert!(
        checked_writes >= 7,
        "the document lists too few state-changing routes: {checked_writes}"
    );
    assert!(routes.iter().any(|r| r.template == "/api/v1/openapi.json"));
    // Nothing was changed by any refused call.
    let after = daemon.execution(&id).await;
    assert_eq!(after.updated_at, before.updated_at);
    assert_eq!(daemon.get("/api/v1/pipelines/p").await.1, pipeline_before);
    let (_, list) = daemon.get("/api/v1/pipelines").await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");

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
