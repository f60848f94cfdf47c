//! Bad definitions and bad requests get clear errors, with positions, and change nothing.

use reqwest::Method;

use crate::helpers::*;

const BROKEN: &str = "name: broken
stages:
  - name: Source
    actions:
      - name: Build
        provider: Jenkins
        runOrder: 0
  - name: Deploy
    actions:
      - name: Ship
        provider: CodeDeploy
        configuration:
          App: \"#{Nowhere.Value}\"
";

#[tokio::test]
async fn validate_reports_every_problem_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.yaml");
    std::fs::write(&file, BROKEN).unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_baton"))
        .arg("validate")
        .arg(&file)
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("broken.yaml:"))
        .collect();
    assert!(
        lines.len() >= 3,
        "several problems reported at once:\n{stderr}"
    );
    let name = file.display().to_string();
    assert!(
        stderr.contains(&format!("{name}:7:19:")),
        "runOrder 0 at line 7:\n{stderr}"
    );
    assert!(stderr.contains("CodeDeploy"), "{stderr}");
    assert!(stderr.contains("Nowhere"), "{stderr}");

    let good = dir.path().join("good.yaml");
    std::fs::write(
        &good,
        "name: ok\nstages:\n  - name: S\n    actions:\n      - {name: A, provider: Git, configuration: {RepositoryUrl: 'file:///x', BranchName: main}}\n  - name: T\n    actions:\n      - {name: B, provider: Manual}\n",
    )
    .unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_baton"))
        .arg("validate")
        .arg(&good)
        .output()
        .await
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn the_api_rejects_bad_definitions_and_bodies_and_keeps_what_it_had() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path(), "limits:\n  max_body_bytes: 65536\n").await;
    let good = "name: keep\nstages:\n  - name: S\n    actions:\n      - {name: A, provider: Git, configuration: {RepositoryUrl: 'file:///x', BranchName: main}}\n  - name: T\n    actions:\n      - {name: B, provider: Manual}\n";
    daemon.apply("keep", good).await;

    let put = |body: Vec<u8>, content_type: &'static str| {
        let url = format!("{}/api/v1/pipelines/keep", daemon.url);
        let token = daemon.token.clone();
        async move {
            let response = reqwest::Client::new()
                .put(url)
                .bearer_auth(token)
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap();
            let status = response.status();
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            (status, body)
        }
    };
    let (status, body) = put(
        BROKEN.replace("broken", "keep").into_bytes(),
        "application/yaml",
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "invalid_pipeline");
    assert!(
        body["error"]["details"].as_array().unwrap().len() >= 3,
        "{body}"
    );
    assert!(
        body["error"]["details"][0]
            .as_str()
            .unwrap()
            .starts_with("keep:"),
        "{body}"
    );

    let (status, _) = put(vec![b'a'; 70_000], "application/yaml").await;
    assert_eq!(status, 413);
    let (status, _) = put(vec![0xff, 0xfe, b'x'], "application/yaml").await;
    assert_eq!(status, 400);
    let (status, _) = put(b"{\"name\": ".to_vec(), "application/json").await;
    assert_eq!(status, 400);
    let (status, body) = put(
        good.replace("name: keep", "name: other").into_bytes(),
        "application/yaml",
    )
    .await;
    assert_eq!(status, 400, "a definition sent to another name: {body}");

    let (status, body) = daemon
        .request(
            Method::POST,
            "/api/v1/pipelines/keep/executions",
            Some(&daemon.token.clone()),
            None,
        )
        .await;
    assert_eq!(status, 201, "an empty start body means defaults: {body}");
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/pipelines/keep/executions", daemon.url))
        .bearer_auth(&daemon.token)
        .header("content-type", "application/json")
        .body("{\"variables\": 7}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);

    let (status, detail) = daemon.get("/api/v1/pipelines/keep").await;
    assert_eq!(status, 200);
    assert_eq!(detail["version"], 1, "nothing stored was lost or changed");
    let (status, _) = daemon.get("/api/v1/pipelines/nope").await;
    assert_eq!(status, 404);
    let (status, _) = daemon.get("/api/v1/executions/nope").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn updating_a_pipeline_bumps_its_version_and_running_executions_keep_theirs() {
    let dir = tempfile::tempdir().unwrap();
    let repo = GitRepo::new(dir.path());
    let daemon = Daemon::start(dir.path(), "").await;
    let v1 = format!("name: up\nstages:\n  - name: S\n    actions:\n      - {{name: A, provider: Git, configuration: {{RepositoryUrl: '{}', BranchName: main}}}}\n  - name: T\n    actions:\n      - {{name: Gate, provider: Manual}}\n", repo.url);
    assert_eq!(daemon.apply("up", &v1).await.version, 1);
    let same = daemon.apply("up", &v1).await;
    assert!(!same.changed);
    assert_eq!(same.version, 1);
    let id = daemon.start_run("up", serde_json::json!({})).await;
    daemon.wait_action(&id, "T", "Gate", "InProgress").await;

    let v2 = v1.replace("name: Gate", "name: Gate2");
    assert_eq!(daemon.apply("up", &v2).await.version, 2);
    let (status, body) = daemon
        .post(
            &format!("/api/v1/executions/{id}/stages/T/actions/Gate/approval"),
            serde_json::json!({"approved": true}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let done = daemon.wait_status(&id, "Succeeded").await;
    assert_eq!(done.summary.pipeline_version, 1);

    let pipeline = daemon
        .cli(&["pipeline", "get", "up", "-o", "json"])
        .await
        .ok();
    let parsed: serde_json::Value = serde_json::from_str(&pipeline.stdout).unwrap();
    assert_eq!(parsed["version"], 2);
    assert_eq!(
        parsed["pipeline"]["stages"][1]["actions"][0]["name"],
        "Gate2"
    );
}

/// A listener that counts the connections made to it.
async fn canary() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((_stream, _)) = listener.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    (url, hits)
}

#[tokio::test]
async fn a_definition_cannot_point_baton_at_an_address_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let (elsewhere, hits) = canary().await;
    let daemon = Daemon::start(
        dir.path(),
        "servers:\n  - {name: jk, kind: jenkins, url: \"http://127.0.0.1:9\"}\n",
    )
    .await;
    let cases = [
        (
            format!("{{name: A, provider: Jenkins, configuration: {{Server: '{elsewhere}/', ProjectName: x}}}}"),
            format!("configuration.Server `{elsewhere}/` is a URL; name a Jenkins server of the daemon config instead (jk)"),
        ),
        (
            "{name: A, provider: Jenkins, configuration: {Server: jenkins-prod, ProjectName: x}}".to_string(),
            "unknown Jenkins server `jenkins-prod`; the daemon config has jk".to_string(),
        ),
        (
            format!("{{name: A, provider: TeamCity, configuration: {{Server: '{elsewhere}', BuildType: x}}}}"),
            format!("configuration.Server `{elsewhere}` is a URL; name a TeamCity server of the daemon config instead (no TeamCity server)"),
        ),
    ];
    for (action, expected) in cases {
        let yaml = format!(
            "name: p\nstages:\n  - name: S\n    actions:\n      - {{name: G, provider: Git, configuration: {{RepositoryUrl: 'file:///x', BranchName: main}}}}\n  - name: B\n    actions:\n      - {action}\n"
        );
        let (status, body) = daemon
            .put_definition("p", yaml.clone(), "application/yaml")
            .await;
        assert_eq!(status, 400);
        assert_eq!(body["error"]["code"], "invalid_pipeline", "{body}");
        assert_eq!(
            body["error"]["details"],
            serde_json::json!([format!("p:8:29: {expected}")]),
            "{body}"
        );

        // `baton validate` against the same config says the same.
        std::fs::write(dir.path().join("p.yaml"), &yaml).unwrap();
        let cli = daemon
            .cli(&["validate", "--config", "baton.yaml", "p.yaml"])
            .await;
        assert_eq!(cli.code, 1, "{}", cli.stderr);
        assert!(
            cli.stdout.contains(&expected) || cli.stderr.contains(&expected),
            "{}{}",
            cli.stdout,
            cli.stderr
        );
    }
    let (status, _) = daemon
        .request(
            Method::POST,
            "/api/v1/pipelines/p/executions",
            Some(&daemon.token.clone()),
            None,
        )
        .await;
    assert_eq!(status, 404, "nothing was stored to run");
    assert_eq!(
        hits.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "no request left for the address in the definition"
    );
}
