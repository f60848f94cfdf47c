//! The daemon as a child process: the real `baton serve` binary on its own data
//! directory, so it can be killed with SIGKILL and started again on the same store, and
//! so load generated in this process does not share its runtime. Its HTTP API is driven
//! with the admin token it generated.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use baton::api::dto::ExecutionDetail;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::daemon::scratch;
use crate::{PATIENCE, REVISION};

pub struct Daemon {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`, for the current incarnation.
    pub url: String,
    /// The admin token, for `Authorization: Bearer`.
    pub token: String,
    config: PathBuf,
    dir: tempfile::TempDir,
    starts: u32,
    http: reqwest::Client,
}

impl Daemon {
    /// Starts `baton serve` with `servers` (a `servers:` section) on a fresh data
    /// directory under `target/bench`, logging warnings only (the in-process groups run
    /// without any log subscriber).
    pub async fn start(servers: &str) -> Daemon {
        let dir = scratch("daemon-");
        let config = dir.path().join("baton.yaml");
        let text = format!(
            "listen: 127.0.0.1:0\ndata_dir: {}\nlog: {{level: warn}}\n{servers}",
            dir.path().join("data").display()
        );
        std::fs::write(&config, text).expect("the daemon's config");
        let mut daemon = Daemon {
            child: None,
            url: String::new(),
            token: String::new(),
            config,
            dir,
            starts: 0,
            http: reqwest::Client::new(),
        };
        daemon.launch().await;
        daemon
    }

    /// Spawns the process and waits until it listens; returns when it was spawned.
    pub async fn launch(&mut self) -> Instant {
        self.starts += 1;
        let log = self.dir.path().join(format!("daemon-{}.log", self.starts));
        let log = std::fs::File::create(log).expect("the daemon's log");
        let spawned = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_baton"))
            .args(["serve", "--config"])
            .arg(&self.config)
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .expect("the baton binary starts");
        let mut lines = BufReader::new(child.stdout.take().expect("its stdout")).lines();
        let url = tokio::time::timeout(PATIENCE, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(url) = line.strip_prefix("Baton is listening on ") {
                    return url.trim().to_string();
                }
            }
            panic!(
                "the daemon exited before listening; see {}",
                self.dir.path().display()
            );
        })
        .await
        .expect("the daemon listens");
        // Keep reading its stdout so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        self.url = url;
        self.child = Some(child);
        let token = self.dir.path().join("data").join("admin.token");
        self.token = std::fs::read_to_string(token)
            .expect("the admin token")
            .trim()
            .to_string();
        spawned
    }

    /// `kill -9`: no chance to flush or say goodbye.
    pub async fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.start_kill().expect("SIGKILL");
            child.wait().await.expect("the daemon's exit");
        }
    }

    pub async fn apply(&self, name: &str, yaml: &str) {
        let response = self
            .http
            .put(format!("{}/api/v1/pipelines/{name}", self.url))
            .bearer_auth(&self.token)
            .header("content-type", "application/yaml")
            .body(yaml.to_string())
            .send()
            .await
            .expect("the daemon answers");
        let status = response.status();
        assert!(status.is_success(), "apply {name}: {status}\n{yaml}");
    }

    /// Starts an execution at the benchmark's revision; returns its id.
    pub async fn start_execution(&self, pipeline: &str) -> String {
        let response = self
            .http
            .post(format!(
                "{}/api/v1/pipelines/{pipeline}/executions",
                self.url
            ))
            .bearer_auth(&self.token)
            .json(&json!({"revision": REVISION}))
            .send()
            .await
            .expect("the daemon answers");
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        assert!(status.is_success(), "start {pipeline}: {status} {body}");
        body["id"].as_str().expect("an execution id").to_string()
    }

    pub async fn execution(&self, id: &str) -> ExecutionDetail {
        self.http
            .get(format!("{}/api/v1/executions/{id}", self.url))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("the daemon answers")
            .json()
            .await
            .expect("an execution")
    }

    /// Runs `total` executions of `pipeline`, `concurrency` at a time, each until it
    /// succeeded; returns their ids.
    pub async fn run_to_success(
        &self,
        pipeline: &str,
        total: usize,
        concurrency: usize,
    ) -> Vec<String> {
        let mut ids = Vec::new();
        while ids.len() < total {
            let mut batch = Vec::new();
            while batch.len() < concurrency && ids.len() + batch.len() < total {
                batch.push(self.start_execution(pipeline).await);
            }
            for id in &batch {
                let deadline = Instant::now() + PATIENCE;
                loop {
                    let execution = self.execution(id).await;
                    if execution.summary.status == "Succeeded" {
                        break;
                    }
                    assert!(
                        execution.summary.status == "InProgress" && Instant::now() < deadline,
                        "{id} did not succeed: {:?}",
                        execution.summary
                    );
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            ids.extend(batch);
        }
        ids
    }
}
