//! Source triggers end to end: a push to a local bare repository starts exactly one
//! execution, noticed by polling or announced by a signed GitHub, GitLab, Gitea or Forgejo
//! webhook built here with the real revision; trigger filters decide; forged signatures
//! start nothing; a restart does not start a revision twice.

use std::time::Duration;

use baton::api::dto::ExecutionSummary;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::Sha256;

use crate::helpers::*;

const SECRET: &str = "baton-test-secret";

/// A pipeline whose Git source feeds a manual approval (so executions stay put).
fn pipeline(name: &str, repo: &str, poll: bool, triggers: &str) -> String {
    format!(
        r#"name: {name}
stages:
  - name: Source
    actions:
      - {{name: Checkout, provider: Git, configuration: {{RepositoryUrl: "{repo}", BranchName: main, PollForSourceChanges: "{poll}"}}}}
  - name: Approve
    actions:
      - {{name: Gate, provider: Manual}}
{triggers}"#
    )
}

async fn history(daemon: &Daemon, pipeline: &str) -> Vec<ExecutionSummary> {
    let (status, body) = daemon
        .get(&format!("/api/v1/pipelines/{pipeline}/executions"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_value(body).unwrap()
}

/// Waits until an execution of `pipeline` runs `revision`, and returns it.
async fn wait_for_revision(daemon: &Daemon, pipeline: &str, revision: &str) -> ExecutionSummary {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let found = history(daemon, pipeline)
            .await
            .into_iter()
            .find(|e| e.revision.as_deref() == Some(revision));
        if let Some(found) = found {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no execution of {pipeline} for {revision}; daemon log:\n{}",
            daemon.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn revisions(executions: &[ExecutionSummary]) -> Vec<String> {
    let mut list: Vec<String> = executions
        .iter()
        .filter_map(|e| e.revision.clone())
        .collect();
    list.sort();
    list
}

fn hmac_hex(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Posts `payload` to the pipeline's git hook with `headers`.
async fn hook(
    daemon: &Daemon,
    pipeline: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{}/hooks/git/{pipeline}", daemon.url))
        .header("content-type", "application/json")
        .body(body.to_vec());
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[derive(Clone, Copy, Debug)]
enum Flavour {
    GitHub,
    GitLab,
    Gitea,
    Forgejo,
}

const FLAVOURS: [Flavour; 4] = [
    Flavour::GitHub,
    Flavour::GitLab,
    Flavour::Gitea,
    Flavour::Forgejo,
];

/// A daemon with the webhook secret set, and `name` applied over `repo` without polling.
async fn with_webhooks(dir: &std::path::Path, name: &str, repo: &GitRepo) -> Daemon {
    let daemon = Daemon::start(dir, &format!("git:\n  webhook_secret: {SECRET}\n")).await;
    daemon
        .apply(name, &pipeline(name, &repo.url, false, ""))
        .await;
    daemon
}

/// A push payload as `flavour` sends it, and its headers signed with the secret.
fn push(
    flavour: Flavour,
    repo: &str,
    git_ref: &str,
    before: &str,
    after: &str,
    files: &[&str],
) -> (Vec<(&'static str, String)>, Vec<u8>) {
    let commit = json!({"id": after, "added": files, "modified": [], "removed": []});
    let body = match flavour {
        Flavour::GitHub => json!({
            "ref": git_ref, "before": before, "after": after, "created": false,
            "deleted": false, "forced": false, "commits": [commit], "head_commit": commit,
            "repository": {"full_name": "acme/app", "clone_url": repo},
            "pusher": {"name": "dana", "email": null}, "sender": {"login": "dana-dev"},
        }),
        Flavour::GitLab => json!({
            "object_kind": "push", "ref": git_ref, "before": before, "after": after,
            "checkout_sha": after, "user_username": "dana-dev", "user_email": "",
            "project": {"git_http_url": repo}, "commits": [commit], "total_commits_count": 1,
        }),
        Flavour::Gitea | Flavour::Forgejo => json!({
            "ref": git_ref, "before": before, "after": after, "commits": [commit],
            "total_commits": 1, "head_commit": commit,
            "repository": {"clone_url": repo}, "pusher": {"login": "dana-dev"},
            "sender": {"login": "dana-dev"},
        }),
    };
    let body = serde_json::to_vec(&body).unwrap();
    let headers = match flavour {
        Flavour::GitHub => vec![
            ("x-github-event", "push".to_string()),
            ("x-github-delivery", "d-1".to_string()),
            ("x-hub-signature-256", format!("sha256={}", hmac_hex(&body))),
        ],
        Flavour::GitLab => vec![
            ("x-gitlab-event", "Push Hook".to_string()),
            ("x-gitlab-token", SECRET.to_string()),
        ],
        Flavour::Gitea => vec![
            ("x-gitea-event", "push".to_string()),
            ("x-github-event", "push".to_string()),
            ("x-gitea-signature", hmac_hex(&body)),
        ],
        Flavour::Forgejo => vec![
            ("x-forgejo-event", "push".to_string()),
            ("x-forgejo-signature", hmac_hex(&body)),
        ],
    };
    (headers, body)
}

#[tokio::test]
async fn polling_starts_one_execution_per_new_head_and_none_again_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let repo = GitRepo::new(dir.path());
    let initial = repo.rev_parse("HEAD");
    let mut daemon = Daemon::start(dir.path(), "git:\n  poll_interval: 200ms\n").await;
    daemon
        .apply("polled", &pipeline("polled", &repo.url, true, ""))
        .await;

    let first = repo.push_commit("first change");
    let started = wait_for_revision(&daemon, "polled", &first).await;
    assert_eq!(started.trigger.trigger_type, "PollForSourceChanges");
    let detail = started.trigger.trigger_detail.clone().unwrap();
    assert!(
        detail.contains("refs/heads/main") && detail.contains(&first),
        "{detail}"
    );
    // The head at apply time was only recorded: the one execution is for the push.
    assert_eq!(
        revisions(&history(&daemon, "polled").await),
        vec![first.clone()]
    );
    let execution = daemon.execution(&started.id).await;
    daemon
        .wait_action(&execution.summary.id, "Source", "Checkout", "Succeeded")
        .await;
    let checked_out = daemon.execution(&started.id).await;
    assert_eq!(
        checked_out.stages[0].actions[0]
            .external_execution_id
            .as_deref(),
        Some(first.as_str())
    );
    assert_ne!(first, initial);

    // A restart polls the same head again: nothing new starts for it.
    daemon.kill9().await;
    daemon.restart().await;
    let second = repo.push_commit("second change");
    wait_for_revision(&daemon, "polled", &second).await;
    let mut expected = vec![first, second];
    expected.sort();
    assert_eq!(revisions(&history(&daemon, "polled").await), expected);
}

#[tokio::test]
async fn each_webhook_flavour_starts_exactly_one_execution() {
    let dir = tempfile::tempdir().unwrap();
    let repo = GitRepo::new(dir.path());
    let daemon = with_webhooks(dir.path(), "hooked", &repo).await;

    let mut started = Vec::new();
    for flavour in FLAVOURS {
        let before = repo.rev_parse("HEAD");
        let after = repo.push_commit(&format!("change for {flavour:?}"));
        let (headers, body) = push(flavour, &repo.url, "refs/heads/main", &before, &after, &[]);
        let (status, answer) = hook(&daemon, "hooked", &headers, &body).await;
        assert_eq!(status, StatusCode::CREATED, "{flavour:?}: {answer}");
        let id = answer["execution"].as_str().unwrap().to_string();
        let execution = daemon.execution(&id).await;
        assert_eq!(execution.summary.revision.as_deref(), Some(after.as_str()));
        assert_eq!(execution.summary.trigger.trigger_type, "Webhook");
        assert_eq!(
            execution.summary.trigger.triggered_by.as_deref(),
            Some("dana-dev")
        );

        // The same delivery again (a redelivery or a replay) starts nothing more.
        let (status, answer) = hook(&daemon, "hooked", &headers, &body).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{flavour:?}: {answer}");
        assert!(answer.get("execution").is_none(), "{answer}");
        started.push(after);
    }
    started.sort();
    assert_eq!(revisions(&history(&daemon, "hooked").await), started);
}

#[tokio::test]
async fn forged_or_unsigned_webhooks_get_401_and_start_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let repo = GitRepo::new(dir.path());
    let daemon = with_webhooks(dir.path(), "guarded", &repo).await;
    let before = repo.rev_parse("HEAD");
    let after = repo.push_commit("change");

    for flavour in FLAVOURS {
        let (headers, body) = push(flavour, &repo.url, "refs/heads/main", &before, &after, &[]);
        // The body changed after signing (GitLab signs no body; its token is the proof).
        if !matches!(flavour, Flavour::GitLab) {
            let mut tampered = body.clone();
            tampered.extend_from_slice(b" ");
            let (status, answer) = hook(&daemon, "guarded", &headers, &tampered).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{flavour:?}: {answer}");
        }
        // A wrong secret, and no signature at all.
        let forged: Vec<(&str, String)> = headers
            .iter()
            .map(|(name, value)| {
                let wrong = if name.contains("signature") || name.contains("token") {
                    "sha256=00ff".to_string()
                } else {
                    value.clone()
                };
                (*name, wrong)
            })
            .collect();
        let (status, answer) = hook(&daemon, "guarded", &forged, &body).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{flavour:?}: {answer}");
        let unsigned: Vec<(&str, String)> = headers
            .iter()
            .filter(|(name, _)| !name.contains("signature") && !name.contains("token"))
            .cloned()
            .collect();
        let (status, answer) = hook(&daemon, "guarded", &unsigned, &body).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{flavour:?}: {answer}");
    }
    assert!(history(&daemon, "guarded").await.is_empty());

    // Signed, but a ping, another event, a deletion or another branch: 2xx, nothing starts.
    let ping = br#"{"zen": "Keep it logically awesome.", "hook_id": 1}"#;
    let sig = |body: &[u8]| format!("sha256={}", hmac_hex(body));
    let (status, _) = hook(
        &daemon,
        "guarded",
        &[
            ("x-github-event", "ping".into()),
            ("x-hub-signature-256", sig(ping)),
        ],
        ping,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = hook(
        &daemon,
        "guarded",
        &[
            ("x-github-event", "issues".into()),
            ("x-hub-signature-256", sig(ping)),
        ],
        ping,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let zero = "0".repeat(40);
    let (headers, body) = push(
        Flavour::GitHub,
        &repo.url,
        "refs/heads/main",
        &before,
        &zero,
        &[],
    );
    let (status, answer) = hook(&daemon, "guarded", &headers, &body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let (headers, body) = push(
        Flavour::GitHub,
        &repo.url,
        "refs/heads/dev",
        &before,
        &after,
        &[],
    );
    let (status, answer) = hook(&daemon, "guarded", &headers, &body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("not the source's branch"),
        "{answer}"
    );
    // Another repository.
    let (headers, body) = push(
        Flavour::GitHub,
        "https://example.com/other.git",
        "refs/heads/main",
        &before,
        &after,
        &[],
    );
    let (status, _) = hook(&daemon, "guarded", &headers, &body).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert!(history(&daemon, "guarded").await.is_empty());

    // A pipeline that does not exist, and a body that is not JSON.
    let (headers, body) = push(
        Flavour::GitHub,
        &repo.url,
        "refs/heads/main",
        &before,
        &after,
        &[],
    );
    let (status, _) = hook(&daemon, "nowhere", &headers, &body).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let garbage = b"payload=%7B%7D";
    let (status, _) = hook(
        &daemon,
        "guarded",
        &[
            ("x-github-event", "push".into()),
            ("x-hub-signature-256", sig(garbage)),
        ],
        garbage,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn trigger_filters_decide_which_pushes_start() {
    let dir = tempfile::tempdir().unwrap();
    let repo = GitRepo::new(dir.path());
    let daemon = Daemon::start(
        dir.path(),
        &format!("git:\n  webhook_secrets:\n    release: {SECRET}\n"),
    )
    .await;
    let triggers = "triggers:
  - providerType: CodeStarSourceConnection
    webhookSecret: release
    gitConfiguration:
      sourceActionName: Checkout
      push:
        - branches: {includes: ['release/*'], excludes: [release/old]}
          filePaths: {includes: ['src/**'], excludes: ['**/*.md']}
        - tags: {includes: ['v*']}
";
    daemon
        .apply(
            "filtered",
            &pipeline("filtered", &repo.url, false, triggers),
        )
        .await;
    let base = repo.rev_parse("HEAD");
    let send = |flavour, git_ref: &str, after: &str, files: &[&str]| {
        let (headers, body) = push(flavour, &repo.url, git_ref, &base, after, files);
        let daemon = &daemon;
        async move { hook(daemon, "filtered", &headers, &body).await }
    };

    // Docs only on a release branch: filtered out.
    let docs = repo.push_files("release/1", &[("src/README.md", "x")], "docs");
    let (status, answer) = send(
        Flavour::GitHub,
        "refs/heads/release/1",
        &docs,
        &["src/README.md"],
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    // Code on an excluded branch, and on main (which the filters do not include).
    let old = repo.push_files("release/old", &[("src/a.rs", "1")], "old");
    let (status, _) = send(
        Flavour::GitHub,
        "refs/heads/release/old",
        &old,
        &["src/a.rs"],
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let main = repo.push_files("main", &[("src/m.rs", "1")], "main");
    let (status, _) = send(Flavour::GitHub, "refs/heads/main", &main, &["src/m.rs"]).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert!(history(&daemon, "filtered").await.is_empty());

    // Code on a release branch starts.
    let code = repo.push_files("release/2", &[("src/lib.rs", "fn main() {}")], "code");
    let (status, answer) = send(
        Flavour::Gitea,
        "refs/heads/release/2",
        &code,
        &["src/lib.rs"],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");

    // A GitLab push that lists fewer commits than it carries cannot prove that no code
    // changed, so the file filter lets it through.
    let hidden = repo.push_files("release/3", &[("docs/x.md", "y")], "more");
    let mut payload = json!({
        "object_kind": "push", "ref": "refs/heads/release/3", "before": base, "after": hidden,
        "checkout_sha": hidden, "project": {"git_http_url": repo.url},
        "commits": [{"id": hidden, "added": ["docs/x.md"], "modified": [], "removed": []}],
        "total_commits_count": 25,
    });
    let body = serde_json::to_vec(&payload).unwrap();
    let gitlab = [
        ("x-gitlab-event", "Push Hook".to_string()),
        ("x-gitlab-token", SECRET.to_string()),
    ];
    let (status, answer) = hook(&daemon, "filtered", &gitlab, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let execution = daemon
        .execution(answer["execution"].as_str().unwrap())
        .await;
    let detail = execution.summary.trigger.trigger_detail.unwrap();
    assert!(
        detail.contains("file path filters were not applied"),
        "{detail}"
    );
    // The same push with its whole list is filtered out (a new revision, so not a duplicate).
    let listed = repo.push_files("release/4", &[("docs/y.md", "z")], "docs again");
    payload["after"] = json!(listed);
    payload["checkout_sha"] = json!(listed);
    payload["ref"] = json!("refs/heads/release/4");
    payload["total_commits_count"] = json!(1);
    let body = serde_json::to_vec(&payload).unwrap();
    let (status, answer) = hook(&daemon, "filtered", &gitlab, &body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");

    // A tag that matches.
    let tag = repo.rev_parse("HEAD");
    let (status, answer) = send(Flavour::GitHub, "refs/tags/v1.0.0", &tag, &[]).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");

    let mut expected = vec![code, hidden, tag];
    expected.sort();
    assert_eq!(revisions(&history(&daemon, "filtered").await), expected);
    assert!(
        !daemon.log().contains(SECRET),
        "the secret must never be logged"
    );
}
