//! Secrets stay secret: with every secret given through the environment and the log at
//! `trace`, a run through both simulators (builds that pass, a build that fails, a server
//! that refuses Baton's token, callbacks with right and wrong secrets) leaves no secret in
//! the daemon's log, in any API answer, in the CLI's output or in the database files.

use std::time::Duration;

use baton::sim::jenkins::{JenkinsSim, JobSpec};
use baton::sim::teamcity::{BuildTypeSpec, TeamCitySim};
use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

const ADMIN: &str = "admin-api-token-4b1f9c0e7d2a6358";
const READER: &str = "reader-api-token-9e8d7c6b5a4f3e2d";
const JENKINS_USER: &str = "baton";
const JENKINS_TOKEN: &str = "11c0ffee0ddba11deadbeef5eed5a1e77";
const JENKINS_WRONG_TOKEN: &str = "11badbadbadbadbadbadbadbadbadbad0";
const TEAMCITY_TOKEN: &str = "tc-access-token-7f3a9b2c1d0e4f56";
const JENKINS_HOOK: &str = "jk-hook-secret-5d4c3b2a19080706";
const TEAMCITY_HOOK: &str = "tc-hook-secret-0a1b2c3d4e5f6071";

/// Each secret by the environment variable that carries it to the daemon.
const SECRETS: &[(&str, &str)] = &[
    ("T_ADMIN_TOKEN", ADMIN),
    ("T_READER_TOKEN", READER),
    ("T_JENKINS_TOKEN", JENKINS_TOKEN),
    ("T_JENKINS_WRONG_TOKEN", JENKINS_WRONG_TOKEN),
    ("T_TEAMCITY_TOKEN", TEAMCITY_TOKEN),
    ("T_JENKINS_HOOK", JENKINS_HOOK),
    ("T_TEAMCITY_HOOK", TEAMCITY_HOOK),
];

fn config(jk: &JenkinsSim, tc: &TeamCitySim) -> String {
    format!(
        "auth:
  tokens:
    - {{name: ada, role: admin, value: \"${{T_ADMIN_TOKEN}}\"}}
    - {{name: rita, role: read, value: \"${{T_READER_TOKEN}}\"}}
servers:
  - name: jk
    kind: jenkins
    url: {jk}
    user: {JENKINS_USER}
    token: ${{T_JENKINS_TOKEN}}
    poll_interval: 100ms
    callback: {{secret: \"${{T_JENKINS_HOOK}}\"}}
  - name: jk-locked
    kind: jenkins
    url: {jk}
    user: {JENKINS_USER}
    token: ${{T_JENKINS_WRONG_TOKEN}}
    poll_interval: 100ms
  - name: tc
    kind: teamcity
    url: {tc}
    token: ${{T_TEAMCITY_TOKEN}}
    poll_interval: 100ms
    callback: {{secret: \"${{T_TEAMCITY_HOOK}}\"}}
",
        jk = jk.url(),
        tc = tc.url()
    )
}

fn pipeline(repo: &str) -> String {
    format!(
        r##"name: guarded
stages:
  - name: Source
    actions:
      - {{name: Checkout, provider: Git, configuration: {{RepositoryUrl: "{repo}", BranchName: main}}}}
  - name: Build
    actions:
      - {{name: Compile, provider: Jenkins, configuration: {{Server: jk, ProjectName: app/build}}}}
      - {{name: Unit, provider: TeamCity, configuration: {{Server: tc, BuildType: App_Unit}}}}
  - name: Check
    actions:
      - {{name: Broken, provider: Jenkins, configuration: {{Server: jk, ProjectName: app/broken}}}}
      - {{name: Locked, provider: Jenkins, configuration: {{Server: jk-locked, ProjectName: app/build}}}}
"##
    )
}

/// Standard base64, to look for a secret inside a Basic authorization header too.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Fails naming the secret and where it showed up.
fn assert_no_secret(place: &str, haystack: &[u8]) {
    let basic = base64(format!("{JENKINS_USER}:{JENKINS_TOKEN}").as_bytes());
    let needles = SECRETS
        .iter()
        .map(|(name, value)| (*name, value.to_string()))
        .chain([("T_JENKINS_TOKEN as Basic auth", basic)]);
    for (name, needle) in needles {
        if let Some(at) = haystack
            .windows(needle.len())
            .position(|window| window == needle.as_bytes())
        {
            let around = &haystack[at.saturating_sub(200)..(at + 200).min(haystack.len())];
            panic!(
                "the secret {name} appears in {place}: …{}…",
                String::from_utf8_lossy(around)
            );
        }
    }
}

#[tokio::test]
async fn no_secret_reaches_logs_answers_cli_output_or_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let repo = GitRepo::new(dir.path());
    let jk = jenkins_sim(JENKINS_USER, JENKINS_TOKEN);
    let tc = teamcity_sim(TEAMCITY_TOKEN);
    let mut env = SECRETS.to_vec();
    env.push(("BATON_LOG__LEVEL", "trace"));
    let mut daemon = Daemon::start_with_env(dir.path(), &config(&jk, &tc), &env).await;
    daemon.token = ADMIN.to_string();

    let jenkins_hook = format!("{}/hooks/jenkins/jk?token={JENKINS_HOOK}", daemon.url);
    let teamcity_hook = format!("{}/hooks/teamcity/tc?token={TEAMCITY_HOOK}", daemon.url);
    let build = |result: &str| JobSpec {
        duration: Duration::from_millis(100),
        result: result.into(),
        log: "building\n".into(),
        notify_url: Some(jenkins_hook.clone()),
        ..JobSpec::default()
    };
    jk.add_job("app/build", build("SUCCESS"));
    jk.add_job("app/broken", build("FAILURE"));
    tc.add_build_type(
        "App_Unit",
        BuildTypeSpec {
            duration: Duration::from_millis(100),
            log: "testing\n".into(),
            webhook_url: Some(teamcity_hook.clone()),
            ..BuildTypeSpec::default()
        },
    );

    // Every answer the API gives in this test, as text.
    let mut answers: Vec<String> = Vec::new();
    daemon.apply("guarded", &pipeline(&repo.url)).await;
    let id = daemon.start_run("guarded", json!({})).await;
    let done = daemon.wait_status(&id, "Failed").await;
    assert_eq!(action_status(&done, "Build", "Compile"), Some("Succeeded"));
    assert_eq!(action_status(&done, "Build", "Unit"), Some("Succeeded"));
    assert_eq!(action_status(&done, "Check", "Broken"), Some("Failed"));
    assert_eq!(action_status(&done, "Check", "Locked"), Some("Failed"));
    assert!(
        jk.stats().notifications_sent > 0,
        "callbacks were exercised"
    );

    // Callbacks with wrong and with right secrets, after the builds finished.
    let payload = json!({"name": "app/build", "build": {"number": 1, "phase": "COMPLETED"}});
    for url in [
        format!("{}/hooks/jenkins/jk?token={JENKINS_HOOK}-wrong", daemon.url),
        format!(
            "{}/hooks/jenkins/jk-locked?token={JENKINS_HOOK}",
            daemon.url
        ),
        format!("{}/hooks/teamcity/tc?token={JENKINS_HOOK}", daemon.url),
        jenkins_hook.clone(),
        teamcity_hook.clone(),
    ] {
        let response = reqwest::Client::new()
            .post(&url)
            .json(&payload)
            .send()
            .await
            .unwrap();
        answers.push(format!(
            "{} {}",
            response.status(),
            response.text().await.unwrap()
        ));
    }

    let gets = [
        "/api/v1/pipelines".to_string(),
        "/api/v1/pipelines/guarded".into(),
        "/api/v1/pipelines/guarded/executions".into(),
        format!("/api/v1/executions/{id}"),
        format!("/api/v1/executions/{id}/stages/Build/actions/Compile/log"),
        format!("/api/v1/executions/{id}/stages/Build/actions/Unit/log"),
        format!("/api/v1/executions/{id}/stages/Check/actions/Locked/log"),
        "/api/v1/executions/nope".into(),
        "/api/v1/openapi.json".into(),
        "/metrics".into(),
    ];
    for path in &gets {
        for token in [
            Some(ADMIN),
            Some(READER),
            Some("not-a-token-0000000000"),
            None,
        ] {
            let (status, body) = daemon.request(Method::GET, path, token, None).await;
            answers.push(format!("GET {path}: {status} {body}"));
        }
    }
    let (status, body) = daemon
        .request(
            Method::DELETE,
            "/api/v1/pipelines/guarded",
            Some(READER),
            None,
        )
        .await;
    assert_eq!(status, 403);
    answers.push(body.to_string());
    let (status, body) = daemon
        .post(
            &format!("/api/v1/executions/{id}/stages/Check/retry"),
            json!({}),
        )
        .await;
    answers.push(format!("{status} {body}"));
    let failed = daemon.wait_status(&id, "Failed").await;
    answers.push(format!("{failed:?}"));

    let mut outputs = Vec::new();
    for args in [
        vec!["pipeline", "list"],
        vec!["pipeline", "get", "guarded", "-o", "yaml"],
        vec!["pipeline", "get", "guarded", "-o", "json"],
        vec!["run", "list", "guarded"],
        vec!["run", "get", &id],
        vec!["run", "get", &id, "-o", "json"],
        vec!["run", "logs", &id, "Build", "Compile"],
        vec!["run", "logs", &id, "Check", "Locked"],
        vec!["run", "get", "no-such-execution"],
        vec!["pipeline", "delete", "guarded"],
    ] {
        let cli = daemon.cli(&args).await;
        outputs.push(format!("{args:?}\n{}\n{}", cli.stdout, cli.stderr));
    }
    let refused = daemon
        .cli_with_token(&["pipeline", "list"], Some("not-a-token-0000000000"))
        .await;
    assert_ne!(refused.code, 0);
    outputs.push(refused.stderr);

    for (n, answer) in answers.iter().enumerate() {
        assert_no_secret(&format!("API answer {n}: {answer}"), answer.as_bytes());
    }
    for output in &outputs {
        assert_no_secret(&format!("the CLI's output: {output}"), output.as_bytes());
    }
    let data = dir.path().join("data");
    let mut database_files = 0;
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("baton.db") {
            database_files += 1;
            assert_no_secret(&name, &std::fs::read(&path).unwrap());
        }
    }
    assert!(database_files >= 2, "the database and its WAL were read");

    assert!(daemon.terminate().await, "the daemon stops cleanly");
    let log = daemon.log();
    assert!(
        log.contains("TRACE")
            && log.contains("/hooks/jenkins/jk?token=***")
            && log.contains("/hooks/teamcity/tc?token=***"),
        "the log is at trace level and saw the callbacks"
    );
    assert_no_secret("the daemon's log", log.as_bytes());
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        assert_no_secret(&path.display().to_string(), &std::fs::read(&path).unwrap());
    }
}

#[test]
fn base64_is_standard() {
    assert_eq!(base64(b"baton:t0k"), "YmF0b246dDBr");
    assert_eq!(base64(b"ab"), "YWI=");
    assert_eq!(base64(b"a"), "YQ==");
}
