//! `baton demo`, as a newcomer runs it: the real binary, simulated Jenkins and TeamCity,
//! the shipped demo pipeline (a Jenkins build, TeamCity and Jenkins tests in parallel, an
//! approval, a Jenkins deploy) to Succeeded; and Ctrl-C while it waits for a person.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const PATIENCE: Duration = Duration::from_secs(60);

fn demo(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_baton"));
    command
        .args(["demo", "--plain", "--build-time", "200ms"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

#[tokio::test]
async fn the_demo_runs_the_mixed_pipeline_to_succeeded() {
    let output = tokio::time::timeout(PATIENCE, demo(&["--approve-after", "100ms"]).output())
        .await
        .expect("the demo ends")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    for line in [
        "Build/Compile Succeeded",
        "Test/UnitTests Succeeded",
        "Test/IntegrationTests Succeeded",
        "Approve/Release Succeeded",
        "Deploy/Production Succeeded",
    ] {
        assert!(stdout.contains(line), "no `{line}` in:\n{stdout}");
    }
    let last = stdout.lines().rev().find(|l| !l.trim().is_empty()).unwrap();
    assert!(last.contains("Succeeded"), "{last}");
    assert!(
        stdout.contains("/job/demo/job/build/1/"),
        "the Jenkins build is linked: {stdout}"
    );
}

#[tokio::test]
async fn ctrl_c_stops_a_waiting_demo_cleanly() {
    let mut child = demo(&["--approve-after", "never"]).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    tokio::time::timeout(PATIENCE, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("Approve/Release InProgress") {
                return;
            }
        }
        panic!("the demo ended before its approval waited");
    })
    .await
    .expect("the approval waits");

    let pid = child.id().unwrap().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = tokio::time::timeout(PATIENCE, child.wait())
        .await
        .expect("the demo stops after Ctrl-C")
        .unwrap();
    assert_eq!(
        status.code(),
        Some(130),
        "interrupted, said so by its exit code"
    );
    let mut rest = String::new();
    while let Ok(Some(line)) = lines.next_line().await {
        rest.push_str(&line);
        rest.push('\n');
    }
    assert!(rest.contains("Interrupted"), "{rest}");
}
