//! Notifications end to end: a receiver on loopback gets signed notifications from the
//! real daemon, filtered by pipeline and event; a receiver that fails at first gets the
//! notification on a later attempt; a receiver that never answers holds up nothing.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::routing::post;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::sync::mpsc;

use crate::helpers::*;

const SECRET: &str = "notify-test-secret";

/// What the receiver does with each request.
#[derive(Clone, Copy)]
enum Behaviour {
    Accept,
    /// Answers 503 to the first N requests, then 200.
    FailFirst(u32),
    /// Never answers.
    Hang,
}

struct Received {
    headers: HeaderMap,
    body: Bytes,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .unwrap()
    }

    fn event(&self) -> String {
        self.json()["event"].as_str().unwrap().to_string()
    }
}

/// An HTTP receiver on loopback; returns its URL and what it receives, in order.
async fn receiver(behaviour: Behaviour) -> (String, mpsc::UnboundedReceiver<Received>) {
    let (sender, received) = mpsc::unbounded_channel();
    let seen = Arc::new(AtomicU32::new(0));
    let app = axum::Router::new().route(
        "/notify",
        post(move |headers: HeaderMap, body: Bytes| {
            let sender = sender.clone();
            let seen = seen.clone();
            async move {
                let n = seen.fetch_add(1, Ordering::SeqCst) + 1;
                let _ = sender.send(Received { headers, body });
                match behaviour {
                    Behaviour::Accept => AxumStatus::NO_CONTENT,
                    Behaviour::FailFirst(failures) if n <= failures => {
                        AxumStatus::SERVICE_UNAVAILABLE
                    }
                    Behaviour::FailFirst(_) => AxumStatus::OK,
                    Behaviour::Hang => std::future::pending().await,
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/notify", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

async fn next(received: &mut mpsc::UnboundedReceiver<Received>, daemon: &Daemon) -> Received {
    tokio::time::timeout(PATIENCE, received.recv())
        .await
        .unwrap_or_else(|_| panic!("no notification arrived; daemon log:\n{}", daemon.log()))
        .expect("the receiver runs")
}

fn verify(received: &Received) {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(&received.body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(received.header("x-baton-signature-256"), expected);
    assert!(!received.header("x-baton-delivery").is_empty());
    assert!(received.header("x-baton-timestamp").parse::<i64>().is_ok());
    assert_eq!(
        received.header("x-baton-event"),
        received.json()["event"].as_str().unwrap()
    );
}

/// A pipeline whose Git source feeds a manual approval.
fn gated(name: &str, repo: &str) -> String {
    format!(
        r#"name: {name}
stages:
  - name: Source
    actions:
      - {{name: Checkout, provider: Git, configuration: {{RepositoryUrl: "{repo}", BranchName: main}}}}
  - name: Review
    actions:
      - {{name: Gate, provider: Manual, configuration: {{CustomData: "check the canary"}}}}
"#
    )
}

#[tokio::test]
async fn receivers_get_signed_notifications_they_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let repo = GitRepo::new(dir.path());
    let (approvals_url, mut approvals) = receiver(Behaviour::Accept).await;
    let (others_url, mut others) = receiver(Behaviour::Accept).await;
    let config = format!(
        r#"notifications:
  - url: {approvals_url}
    secret: {SECRET}
    pipelines: [gated]
    events: [execution.started, approval.needed, approval.decided, execution.succeeded]
  - url: {others_url}
    pipelines: [other]
"#
    );
    let daemon = Daemon::start(dir.path(), &config).await;
    daemon.apply("gated", &gated("gated", &repo.url)).await;
    daemon.apply("other", &gated("other", &repo.url)).await;

    let id = daemon.start_run("gated", json!({})).await;
    let started = next(&mut approvals, &daemon).await;
    verify(&started);
    assert_eq!(started.event(), "execution.started");
    assert_eq!(started.json()["execution"]["id"], id.as_str());
    assert_eq!(started.json()["pipeline"], "gated");

    let needed = next(&mut approvals, &daemon).await;
    verify(&needed);
    assert_eq!(needed.event(), "approval.needed");
    let approval = &needed.json()["approval"];
    assert_eq!(approval["summary"], "check the canary");
    assert_eq!(
        approval["reviewUrl"],
        format!("{}/api/v1/executions/{id}", daemon.url)
    );
    // Answer through the endpoint the notification names.
    let approve = &approval["approve"];
    assert_eq!(approve["method"], "POST");
    let path = approve["url"]
        .as_str()
        .unwrap()
        .strip_prefix(&daemon.url)
        .unwrap()
        .to_string();
    let (status, body) = daemon.post(&path, approve["body"].clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let decided = next(&mut approvals, &daemon).await;
    verify(&decided);
    assert_eq!(decided.event(), "approval.decided");
    assert_eq!(decided.json()["approval"]["decision"], "Approved");
    let succeeded = next(&mut approvals, &daemon).await;
    verify(&succeeded);
    assert_eq!(succeeded.event(), "execution.succeeded");
    assert_eq!(succeeded.json()["execution"]["status"], "Succeeded");
    daemon.wait_status(&id, "Succeeded").await;

    // The second receiver only wants `other`: its queue is in order, so the first thing it
    // gets is `other` starting, with no word of `gated` before it.
    let other = daemon.start_run("other", json!({})).await;
    let first = next(&mut others, &daemon).await;
    assert_eq!(first.event(), "execution.started");
    assert_eq!(first.json()["execution"]["id"], other.as_str());
    assert!(first.headers.get("x-baton-signature-256").is_none());
    let second = next(&mut others, &daemon).await;
    assert_eq!(second.event(), "stage.started");
    assert_eq!(second.json()["stage"]["name"], "Source");
}

#[tokio::test]
async fn a_failing_receiver_gets_the_notification_on_retry() {
    let dir = tempfile::tempdir().unwrap();
    let repo = GitRepo::new(dir.path());
    let (url, mut received) = receiver(Behaviour::FailFirst(2)).await;
    let config = format!(
        "notifications:\n  - url: {url}\n    secret: {SECRET}\n    events: [execution.started]\n    retry_delay: 20ms\n"
    );
    let daemon = Daemon::start(dir.path(), &config).await;
    daemon.apply("gated", &gated("gated", &repo.url)).await;
    let id = daemon.start_run("gated", json!({})).await;

    let attempts = [
        next(&mut received, &daemon).await,
        next(&mut received, &daemon).await,
        next(&mut received, &daemon).await,
    ];
    for (n, attempt) in attempts.iter().enumerate() {
        verify(attempt);
        assert_eq!(attempt.event(), "execution.started");
        assert_eq!(attempt.json()["execution"]["id"], id.as_str());
        assert_eq!(attempt.header("x-baton-attempt"), (n + 1).to_string());
        assert_eq!(
            attempt.header("x-baton-delivery"),
            attempts[0].header("x-baton-delivery"),
            "every attempt is the same delivery"
        );
    }
}

#[tokio::test]
async fn a_receiver_that_never_answers_holds_up_no_execution() {
    let dir = tempfile::tempdir().unwrap();
    let repo = GitRepo::new(dir.path());
    let (url, mut received) = receiver(Behaviour::Hang).await;
    let config = format!("notifications:\n  - url: {url}\n    timeout: 1h\n");
    let daemon = Daemon::start(dir.path(), &config).await;
    daemon.apply("gated", &gated("gated", &repo.url)).await;
    let id = daemon.start_run("gated", json!({})).await;

    // The receiver holds the first notification and never answers it.
    let first = next(&mut received, &daemon).await;
    assert_eq!(first.event(), "execution.started");

    daemon
        .wait_action(&id, "Review", "Gate", "InProgress")
        .await;
    let (status, body) = daemon
        .post(
            &format!("/api/v1/executions/{id}/stages/Review/actions/Gate/approval"),
            json!({"approved": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    daemon.wait_status(&id, "Succeeded").await;

    // The execution went through while the first delivery was still hanging.
    assert!(
        received.try_recv().is_err(),
        "nothing else was sent while the first delivery hung"
    );
}
