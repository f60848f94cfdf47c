//! Deadlines, with the daemon built in this process on a clock the test moves: an
//! approval that nobody answers fails when its time is up.

use crate::helpers::*;

#[tokio::test]
async fn an_unanswered_approval_fails_when_its_time_is_up() {
    let dir = tempfile::tempdir().unwrap();
    let repo = GitRepo::new(dir.path());
    let daemon = start_in_process(dir.path(), "").await;
    let yaml = format!(
        "name: slow\nstages:\n  - name: S\n    actions:\n      - {{name: A, provider: Git, configuration: {{RepositoryUrl: '{}', BranchName: main}}}}\n  - name: Review\n    actions:\n      - {{name: Gate, provider: Manual, timeoutInMinutes: 60}}\n",
        repo.url
    );
    daemon.apply("slow", yaml).await;
    let id = daemon.start_run("slow").await;
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
