//! Deadlines, with the daemon built in this process on a clock the test moves: an
//! approval that nobody answers fails when its time is up.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use baton::app::App;
use baton::config::Settings;
use baton::runtime::RuntimeOptions;
use serde_json::json;

use crate::helpers::*;

/// Real time plus an offset the test adds to.
#[derive(Clone, Default)]
struct TestClock(Arc<AtomicI64>);

impl TestClock {
    fn advance(&self, by: chrono::Duration) {
        self.0.fetch_add(by.num_milliseconds(), Ordering::SeqCst);
    }
}

struct InProcess {
    url: String,
    token: String,
    runtime: baton::runtime::Runtime,
    clock: TestClock,
    http: reqwest::Client,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start(dir: &std::path::Path, servers: &str) -> InProcess {
    let config = dir.join("baton.yaml");
    std::fs::write(
        &config,
        format!(
            "listen: 127.0.0.1:0\ndata_dir: {}\n{servers}",
            dir.join("data").display()
        ),
    )
    .unwrap();
    let settings = Settings::load(Some(&config)).unwrap();
    let clock = TestClock::default();
    let offset = clock.0.clone();
    let options = RuntimeOptions {
        clock: Arc::new(move || {
            chrono::Utc::now() + chrono::Duration::milliseconds(offset.load(Ordering::SeqCst))
        }),
        ..RuntimeOptions::default()
    };
    let app = App::build_with(settings, options).await.unwrap();
    let url = format!("http://{}", app.local_addr().unwrap());
    let runtime = app.runtime().clone();
    let token = std::fs::read_to_string(dir.join("data/admin.token"))
        .unwrap()
        .trim()
        .to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    InProcess {
        url,
        token,
        runtime,
        clock,
        http: reqwest::Client::new(),
        _stop: stop,
    }
}

impl InProcess {
    async fn send(&self, request: reqwest::RequestBuilder) -> serde_json::Value {
        let response = request.bearer_auth(&self.token).send().await.unwrap();
        assert!(
            response.status().is_success(),
            "{}",
            response.text().await.unwrap()
        );
        response.json().await.unwrap_or_default()
    }

    async fn wait(
        &self,
        id: &str,
        what: &str,
        done: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let detail = self
                .send(
                    self.http
                        .get(format!("{}/api/v1/executions/{id}", self.url)),
                )
                .await;
            if done(&detail) {
                return detail;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "waited too long for {what}: {detail:#}"
            );
            let since = detail["updatedAt"].as_str().unwrap().to_string();
            self.send(self.http.get(format!(
                "{}/api/v1/executions/{id}?since={}",
                self.url,
                urlencode(&since)
            )))
            .await;
        }
    }
}

#[tokio::test]
async fn an_unanswered_approval_fails_when_its_time_is_up() {
    let dir = tempfile::tempdir().unwrap();
    let repo = GitRepo::new(dir.path());
    let daemon = start(dir.path(), "").await;
    let yaml = format!(
        "name: slow\nstages:\n  - name: S\n    actions:\n      - {{name: A, provider: Git, configuration: {{RepositoryUrl: '{}', BranchName: main}}}}\n  - name: Review\n    actions:\n      - {{name: Gate, provider: Manual, timeoutInMinutes: 60}}\n",
        repo.url
    );
    daemon
        .send(
            daemon
                .http
                .put(format!("{}/api/v1/pipelines/slow", daemon.url))
                .body(yaml),
        )
        .await;
    let started = daemon
        .send(
            daemon
                .http
                .post(format!("{}/api/v1/pipelines/slow/executions", daemon.url))
                .json(&json!({})),
        )
        .await;
    let id = started["id"].as_str().unwrap().to_string();
    daemon
        .wait(&id, "approvals waiting", |d| {
            d["stages"][1]["actions"][0]["status"] == "InProgress"
        })
        .await;

    daemon.clock.advance(chrono::Duration::minutes(61));
    daemon.runtime.clock_moved();
    let failed = daemon
        .wait(&id, "Failed", |d| d["status"] == "Failed")
        .await;
    let gate = &failed["stages"][1]["actions"][0];
    assert_eq!(gate["status"], "Failed");
    assert!(
        gate["error"]
            .as_str()
            .unwrap()
            .contains("timed out after 60 minutes"),
        "{gate}"
    );
}
