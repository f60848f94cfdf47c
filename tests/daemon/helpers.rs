//! The harness: a real `baton serve` process on a free port with its own data directory,
//! the scripted CI simulator in this process, local git repositories, and waits that
//! follow an execution through the API's long-poll instead of sleeping.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use baton::api::dto::{ApplyResult, ExecutionDetail};
use baton::app::App;
use baton::config::Settings;
use baton::runtime::RuntimeOptions;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long any wait in a test may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(60);

pub struct Daemon {
    child: Option<Child>,
    pub url: String,
    pub token: String,
    pub dir: PathBuf,
    config: PathBuf,
    /// Environment variables the daemon process gets on top of this process's.
    env: Vec<(String, String)>,
    starts: u32,
    http: reqwest::Client,
}

impl Daemon {
    /// Starts a daemon whose config is the defaults plus `extra` (YAML, top-level keys).
    pub async fn start(dir: &Path, extra: &str) -> Daemon {
        Daemon::start_listening(dir, "127.0.0.1:0", extra, &[]).await
    }

    /// Like `start`, with extra environment variables for the daemon (secrets the config
    /// references as `${NAME}`, `BATON_…` overrides).
    pub async fn start_with_env(dir: &Path, extra: &str, env: &[(&str, &str)]) -> Daemon {
        Daemon::start_listening(dir, "127.0.0.1:0", extra, env).await
    }

    /// `start`, on a fixed address (so clients find it again after `restart`) and with
    /// extra environment variables.
    pub async fn start_listening(
        dir: &Path,
        listen: &str,
        extra: &str,
        env: &[(&str, &str)],
    ) -> Daemon {
        let config = dir.join("baton.yaml");
        let data = dir.join("data");
        let text = format!(
            "listen: {listen}\ndata_dir: {}\nlog:\n  level: baton=debug,info\n{extra}",
            data.display()
        );
        std::fs::write(&config, text).unwrap();
        let mut daemon = Daemon {
            child: None,
            url: String::new(),
            token: String::new(),
            dir: dir.to_path_buf(),
            config,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            starts: 0,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(40))
                .build()
                .unwrap(),
        };
        daemon.launch().await;
        daemon
    }

    async fn launch(&mut self) {
        self.starts += 1;
        let log =
            std::fs::File::create(self.dir.join(format!("daemon-{}.log", self.starts))).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_baton"))
            .args(["serve", "--config"])
            .arg(&self.config)
            .envs(self.env.iter().cloned())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .expect("the baton binary starts");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let url = tokio::time::timeout(PATIENCE, async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(url) = line.strip_prefix("Baton is listening on ") {
                    return url.trim().to_string();
                }
            }
            panic!(
                "the daemon exited before listening; see {}",
                self.dir.display()
            );
        })
        .await
        .expect("the daemon starts listening");
        // Keep draining stdout so the daemon never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        self.url = url;
        self.child = Some(child);
        if let Ok(token) = std::fs::read_to_string(self.dir.join("data").join("admin.token")) {
            self.token = token.trim().to_string();
        }
    }

    /// `kill -9`: no chance to flush or say goodbye.
    pub async fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.start_kill().unwrap();
            child.wait().await.unwrap();
        }
    }

    /// Starts the daemon again on the same data directory (on a new port).
    pub async fn restart(&mut self) {
        self.kill9().await;
        self.launch().await;
    }

    /// SIGTERM, then waits for the process to exit; returns whether it exited cleanly.
    pub async fn terminate(&mut self) -> bool {
        let mut child = self.child.take().expect("running");
        let pid = child.id().expect("pid") as i32;
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = tokio::time::timeout(PATIENCE, child.wait())
            .await
            .unwrap()
            .unwrap();
        exit.success()
    }

    pub fn log(&self) -> String {
        (1..=self.starts)
            .map(|n| {
                std::fs::read_to_string(self.dir.join(format!("daemon-{n}.log")))
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Runs the CLI against this daemon with the admin token.
    pub async fn cli(&self, args: &[&str]) -> Cli {
        self.cli_with_token(args, Some(&self.token)).await
    }

    pub async fn cli_with_token(&self, args: &[&str], token: Option<&str>) -> Cli {
        let mut command = Command::new(env!("CARGO_BIN_EXE_baton"));
        command
            .args(args)
            .env("BATON_SERVER", &self.url)
            .env_remove("BATON_TOKEN")
            .env("BATON_DATA_DIR", self.dir.join("no-token-here"))
            .current_dir(&self.dir);
        if let Some(token) = token {
            command.env("BATON_TOKEN", token);
        }
        let output = tokio::time::timeout(PATIENCE, command.output())
            .await
            .expect("the CLI finishes")
            .unwrap();
        Cli {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the daemon answers");
        let status = response.status();
        let text = response.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.request(reqwest::Method::GET, path, Some(&self.token), None)
            .await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.request(reqwest::Method::POST, path, Some(&self.token), Some(body))
            .await
    }

    /// `PUT /api/v1/pipelines/{name}` with any body and content type, as the admin.
    pub async fn put_definition(
        &self,
        name: &str,
        body: impl Into<reqwest::Body>,
        content_type: &str,
    ) -> (StatusCode, Value) {
        let response = self
            .http
            .put(format!("{}/api/v1/pipelines/{name}", self.url))
            .bearer_auth(&self.token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("the daemon answers");
        let status = response.status();
        let text = response.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    pub async fn apply(&self, name: &str, yaml: &str) -> ApplyResult {
        let (status, body) = self
            .put_definition(name, yaml.to_string(), "application/yaml")
            .await;
        assert_eq!(status, StatusCode::OK, "apply {name}: {body}");
        serde_json::from_value(body).unwrap()
    }

    pub async fn start_run(&self, pipeline: &str, variables: Value) -> String {
        let (status, body) = self
            .post(
                &format!("/api/v1/pipelines/{pipeline}/executions"),
                json!({ "variables": variables }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "start {pipeline}: {body}");
        body["id"].as_str().unwrap().to_string()
    }

    pub async fn execution(&self, id: &str) -> ExecutionDetail {
        let (status, body) = self.get(&format!("/api/v1/executions/{id}")).await;
        assert_eq!(status, StatusCode::OK, "get {id}: {body}");
        serde_json::from_value(body).unwrap()
    }

    /// Follows the execution through the long-poll until `done` holds.
    pub async fn wait_until(
        &self,
        id: &str,
        what: &str,
        done: impl Fn(&ExecutionDetail) -> bool,
    ) -> ExecutionDetail {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        let mut current = self.execution(id).await;
        while !done(&current) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "waited too long for {what}; execution is now:\n{current:#?}\ndaemon log:\n{}",
                self.log()
            );
            let since = current
                .updated_at
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
            let (status, body) = self
                .get(&format!(
                    "/api/v1/executions/{id}?since={}",
                    urlencode(&since)
                ))
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            current = serde_json::from_value(body).unwrap();
        }
        current
    }

    pub async fn wait_status(&self, id: &str, status: &str) -> ExecutionDetail {
        self.wait_until(id, status, |e| e.summary.status == status)
            .await
    }

    /// `baton run stop ID --abandon --reason REASON`, then waits for Stopped.
    pub async fn stop_and_abandon(&self, id: &str, reason: &str) -> ExecutionDetail {
        self.cli(&["run", "stop", id, "--abandon", "--reason", reason])
            .await
            .ok();
        self.wait_status(id, "Stopped").await
    }

    /// Waits until the action has the given status.
    pub async fn wait_action(
        &self,
        id: &str,
        stage: &str,
        action: &str,
        status: &str,
    ) -> ExecutionDetail {
        self.wait_until(id, &format!("{stage}/{action} {status}"), |e| {
            action_status(e, stage, action) == Some(status)
        })
        .await
    }
}

/// POSTs a CI server's callback body to `url`, as the server would; returns the status.
pub async fn post_callback(url: &str, body: &serde_json::Value) -> StatusCode {
    reqwest::Client::new()
        .post(url)
        .json(body)
        .send()
        .await
        .expect("the daemon answers")
        .status()
}

pub fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn action_status<'a>(e: &'a ExecutionDetail, stage: &str, action: &str) -> Option<&'a str> {
    e.stages
        .iter()
        .find(|s| s.name == stage)?
        .actions
        .iter()
        .find(|a| a.name == action)?
        .status
        .as_deref()
}

pub fn stage_status<'a>(e: &'a ExecutionDetail, stage: &str) -> Option<&'a str> {
    e.stages.iter().find(|s| s.name == stage)?.status.as_deref()
}

pub fn run_id(e: &ExecutionDetail, stage: &str, action: &str) -> String {
    e.stages
        .iter()
        .find(|s| s.name == stage)
        .and_then(|s| s.actions.iter().find(|a| a.name == action))
        .and_then(|a| a.run_id.clone())
        .unwrap_or_else(|| panic!("{stage}/{action} has no run id: {e:#?}"))
}

pub struct Cli {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Cli {
    pub fn ok(self) -> Cli {
        assert_eq!(
            self.code, 0,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// A bare git repository with a working clone to push from.
pub struct GitRepo {
    pub url: String,
    work: PathBuf,
}

impl GitRepo {
    pub fn new(dir: &Path) -> GitRepo {
        let bare = dir.join("origin.git");
        let work = dir.join("work");
        git(
            dir,
            &["init", "-q", "--bare", "-b", "main", bare.to_str().unwrap()],
        );
        git(dir, &["init", "-q", "-b", "main", work.to_str().unwrap()]);
        git(&work, &["remote", "add", "origin", bare.to_str().unwrap()]);
        let repo = GitRepo {
            url: format!("file://{}", bare.display()),
            work,
        };
        repo.push_commit("initial commit");
        repo
    }

    /// Writes `files` (path → text), commits them on `branch` (made from `main`'s head)
    /// and pushes it; returns the new head. The clone is back on `main` afterwards.
    pub fn push_files(&self, branch: &str, files: &[(&str, &str)], message: &str) -> String {
        git(&self.work, &["checkout", "-q", "-B", branch, "main"]);
        for (path, text) in files {
            let file = self.work.join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, text).unwrap();
            git(&self.work, &["add", path]);
        }
        git(
            &self.work,
            &["commit", "-q", "--allow-empty", "-m", message],
        );
        git(
            &self.work,
            &["push", "-q", "origin", &format!("HEAD:{branch}")],
        );
        let head = git(&self.work, &["rev-parse", "HEAD"]).trim().to_string();
        git(&self.work, &["checkout", "-q", "main"]);
        head
    }

    /// The commit `rev` names in the working clone.
    pub fn rev_parse(&self, rev: &str) -> String {
        git(&self.work, &["rev-parse", rev]).trim().to_string()
    }

    /// Commits and pushes to `main`; returns the new head.
    pub fn push_commit(&self, message: &str) -> String {
        git(
            &self.work,
            &["commit", "-q", "--allow-empty", "-m", message],
        );
        git(&self.work, &["push", "-q", "origin", "HEAD:main"]);
        git(&self.work, &["rev-parse", "HEAD"]).trim().to_string()
    }
}

fn git(dir: &Path, args: &[&str]) -> String {
    let output = std::process::Command::new("git")
        .args([
            "-c",
            "user.name=Baton Test",
            "-c",
            "user.email=test@baton.invalid",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The daemon config lines that register a scripted CI server.
pub fn scripted_server(name: &str, url: &str) -> String {
    format!(
        "servers:\n  - name: {name}\n    kind: scripted\n    url: {url}\n    poll_interval: 50ms\n"
    )
}

/// A Jenkins simulator that knows one user and API token.
pub fn jenkins_sim(user: &str, token: &str) -> baton::sim::jenkins::JenkinsSim {
    baton::sim::jenkins::JenkinsSim::start_with(baton::sim::jenkins::JenkinsSimOptions {
        users: vec![(user.into(), token.into())],
        ..Default::default()
    })
    .expect("the Jenkins simulator starts")
}

/// A TeamCity simulator that accepts one access token.
pub fn teamcity_sim(token: &str) -> baton::sim::teamcity::TeamCitySim {
    baton::sim::teamcity::TeamCitySim::start_with(baton::sim::teamcity::TeamCitySimOptions {
        token: Some(token.into()),
        ..Default::default()
    })
    .expect("the TeamCity simulator starts")
}

/// The daemon built in this process, on a clock the test moves (for deadlines).
/// Real time plus an offset the test adds to.
#[derive(Clone, Default)]
pub struct TestClock(pub Arc<AtomicI64>);

impl TestClock {
    pub fn advance(&self, by: chrono::Duration) {
        self.0.fetch_add(by.num_milliseconds(), Ordering::SeqCst);
    }
}

pub struct InProcess {
    pub url: String,
    pub token: String,
    pub runtime: baton::runtime::Runtime,
    pub clock: TestClock,
    pub http: reqwest::Client,
    _stop: tokio::sync::oneshot::Sender<()>,
}

pub async fn start_in_process(dir: &std::path::Path, servers: &str) -> InProcess {
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
    pub async fn send(&self, request: reqwest::RequestBuilder) -> serde_json::Value {
        let response = request.bearer_auth(&self.token).send().await.unwrap();
        assert!(
            response.status().is_success(),
            "{}",
            response.text().await.unwrap()
        );
        response.json().await.unwrap_or_default()
    }

    /// `PUT /api/v1/pipelines/{name}` with a YAML definition.
    pub async fn apply(&self, name: &str, yaml: String) {
        self.send(
            self.http
                .put(format!("{}/api/v1/pipelines/{name}", self.url))
                .body(yaml),
        )
        .await;
    }

    /// Starts an execution of `pipeline`; returns its id.
    pub async fn start_run(&self, pipeline: &str) -> String {
        let started = self
            .send(
                self.http
                    .post(format!(
                        "{}/api/v1/pipelines/{pipeline}/executions",
                        self.url
                    ))
                    .json(&serde_json::json!({})),
            )
            .await;
        started["id"].as_str().unwrap().to_string()
    }

    pub async fn wait(
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
