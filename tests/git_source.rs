//! The Git source adapter against real repositories: a bare repository in a temporary
//! directory, fed by `git push` from a work tree, read back through `GitSource`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use baton::adapters::git::GitSource;
use baton::adapters::{ActionContext, Adapter, AdapterError, Outcome, Progress, Started};
use baton::model::ConfigValue;

/// A bare "remote" and a work tree that pushes to it.
struct Remote {
    _dir: tempfile::TempDir,
    bare: PathBuf,
    work: PathBuf,
}

impl Remote {
    fn new() -> Remote {
        let dir = tempfile::tempdir().expect("temporary directory");
        let bare = dir.path().join("remote.git");
        let work = dir.path().join("work");
        git(dir.path(), &["init", "--quiet", "--bare", path_str(&bare)]);
        git(
            dir.path(),
            &["init", "--quiet", "-b", "main", path_str(&work)],
        );
        git(&work, &["remote", "add", "origin", path_str(&bare)]);
        Remote {
            _dir: dir,
            bare,
            work,
        }
    }

    fn url(&self) -> String {
        path_str(&self.bare).to_string()
    }

    /// Commits a change on `branch` and pushes it; returns the new head.
    fn push(&self, branch: &str, message: &str) -> String {
        git(&self.work, &["checkout", "--quiet", "-B", branch]);
        std::fs::write(self.work.join("file.txt"), message).expect("write file");
        git(&self.work, &["add", "file.txt"]);
        git(&self.work, &["commit", "--quiet", "-m", message]);
        git(&self.work, &["push", "--quiet", "origin", branch]);
        git(&self.work, &["rev-parse", "HEAD"]).trim().to_string()
    }
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args([
            "-c",
            "user.name=Baton Test",
            "-c",
            "user.email=baton@example.com",
        ])
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run git");
    assert!(
        output.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn context(url: &str, branch: &str, revision: Option<&str>) -> ActionContext {
    ActionContext {
        run_id: "run-1".into(),
        pipeline: "app".into(),
        execution_id: "exec-1".into(),
        stage: "Source".into(),
        action: "Checkout".into(),
        attempt: 1,
        configuration: std::sync::Arc::new(BTreeMap::from([
            ("RepositoryUrl".to_string(), ConfigValue::Text(url.into())),
            ("BranchName".to_string(), ConfigValue::Text(branch.into())),
        ])),
        revision: revision.map(str::to_string),
        input_artifacts: Vec::new(),
        execution_link: "http://127.0.0.1:8700/api/v1/executions/exec-1".into(),
    }
}

fn source() -> GitSource {
    GitSource::new(Duration::from_secs(20))
}

fn expect_succeeded(started: &Started) -> (&BTreeMap<String, String>, Option<&str>) {
    match &started.finished {
        Some(Outcome::Succeeded { outputs, summary }) => (outputs, summary.as_deref()),
        other => panic!("expected a finished success, got {other:?}"),
    }
}

fn expect_fatal(result: Result<Started, AdapterError>) -> String {
    match result {
        Err(AdapterError::Fatal(message)) => message,
        other => panic!("expected Fatal, got {other:?}"),
    }
}

#[tokio::test]
async fn trigger_returns_the_pushed_head_and_follows_new_pushes() {
    let remote = Remote::new();
    let first = remote.push("main", "one");
    let ctx = context(&remote.url(), "main", None);

    let started = source().trigger(&ctx).await.expect("trigger");
    assert_eq!(started.external_id, first);
    assert_eq!(started.external_url, None);
    let (outputs, summary) = expect_succeeded(&started);
    assert_eq!(outputs["CommitId"], first);
    assert_eq!(outputs["BranchName"], "main");
    assert_eq!(outputs["RepositoryUrl"], remote.url());
    assert_eq!(summary, Some(format!("main at {}", &first[..7]).as_str()));

    let second = remote.push("main", "two");
    assert_ne!(first, second);
    let started = source().trigger(&ctx).await.expect("trigger again");
    assert_eq!(started.external_id, second);
}

#[tokio::test]
async fn trigger_matches_the_branch_exactly() {
    let remote = Remote::new();
    let main = remote.push("main", "main");
    let nested = remote.push("feature/main", "nested");
    assert_ne!(main, nested);

    let started = source()
        .trigger(&context(&remote.url(), "main", None))
        .await
        .expect("trigger");
    assert_eq!(started.external_id, main);
    let started = source()
        .trigger(&context(&remote.url(), "feature/main", None))
        .await
        .expect("trigger");
    assert_eq!(started.external_id, nested);
}

#[tokio::test]
async fn unknown_branch_is_fatal() {
    let remote = Remote::new();
    remote.push("main", "one");
    let message = expect_fatal(
        source()
            .trigger(&context(&remote.url(), "release", None))
            .await,
    );
    assert_eq!(
        message,
        format!("branch `release` not found in {}", remote.url())
    );
}

#[tokio::test]
async fn missing_repository_is_fatal_with_gits_reason() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let missing = dir.path().join("nowhere.git");
    let message = expect_fatal(
        source()
            .trigger(&context(path_str(&missing), "main", None))
            .await,
    );
    assert!(message.starts_with("cannot read "), "{message}");
    assert!(message.contains("nowhere.git"), "{message}");
    assert!(!message.contains('\n'), "{message}");
}

#[tokio::test]
async fn revision_is_used_without_a_lookup() {
    // The repository does not exist: a lookup would fail.
    let ctx = context("/nonexistent/repo.git", "main", Some("abcdef0123456789"));
    let started = source().trigger(&ctx).await.expect("trigger");
    assert_eq!(started.external_id, "abcdef0123456789");
    let (outputs, summary) = expect_succeeded(&started);
    assert_eq!(outputs["CommitId"], "abcdef0123456789");
    assert_eq!(summary, Some("main at abcdef0"));
}

#[tokio::test]
async fn command_injection_urls_are_rejected() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let marker = dir.path().join("pwned");
    let ext = format!("ext::sh -c touch% {}", path_str(&marker));
    let message = expect_fatal(source().trigger(&context(&ext, "main", None)).await);
    assert!(message.contains("remote helper"), "{message}");

    let option = format!("--upload-pack=touch {}", path_str(&marker));
    let message = expect_fatal(source().trigger(&context(&option, "main", None)).await);
    assert!(message.contains("starts with `-`"), "{message}");

    assert!(!marker.exists(), "a command ran");
}

#[tokio::test]
async fn credentials_never_appear_in_errors() {
    // A closed port: the connection is refused.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address").port()
    };
    let url = format!("http://bob:hunter2secret@127.0.0.1:{port}/repo.git");
    let message = expect_fatal(source().trigger(&context(&url, "main", None)).await);
    assert!(!message.contains("hunter2secret"), "{message}");
    assert!(message.contains("***@127.0.0.1"), "{message}");
}

#[tokio::test]
async fn a_silent_server_times_out_as_retryable() {
    // Accepts connections and never answers, like a stuck git daemon.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("address").port();
    let hold = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    let url = format!("git://127.0.0.1:{port}/repo.git");
    let adapter = GitSource::new(Duration::from_millis(500));
    let started = std::time::Instant::now();
    let result = adapter.trigger(&context(&url, "main", None)).await;
    assert!(
        matches!(result, Err(AdapterError::Retryable { .. })),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    hold.abort();
}

#[tokio::test]
async fn status_find_cancel_and_log() {
    let ctx = context("https://example.com/r.git", "main", None);
    let adapter = source();
    assert_eq!(adapter.find(&ctx).await, Ok(None));
    assert_eq!(adapter.cancel(&ctx, Some("abc")).await, Ok(()));
    match adapter.status(&ctx, "0123456789abcdef").await {
        Ok(Progress::Finished(Outcome::Succeeded { outputs, summary })) => {
            assert_eq!(outputs["CommitId"], "0123456789abcdef");
            assert_eq!(outputs["BranchName"], "main");
            assert_eq!(outputs["RepositoryUrl"], "https://example.com/r.git");
            assert_eq!(summary.as_deref(), Some("main at 0123456"));
        }
        other => panic!("expected a finished success, got {other:?}"),
    }
    assert!(matches!(
        adapter.log(&ctx, "abc", 0).await,
        Err(AdapterError::Unsupported(_))
    ));
    assert_eq!(
        adapter.poll_interval(Duration::ZERO),
        Duration::from_secs(1)
    );
}

#[tokio::test]
async fn missing_configuration_is_fatal() {
    let mut ctx = context("/srv/repo.git", "main", None);
    std::sync::Arc::make_mut(&mut ctx.configuration).remove("BranchName");
    let message = expect_fatal(source().trigger(&ctx).await);
    assert_eq!(message, "Git source needs configuration.BranchName");
}
