//! The Jenkins simulator checked by a client written by others: python-jenkins runs
//! `tests/clients/jenkins_check.py` against it over loopback. Without the library the
//! test says so and passes, unless `BATON_REQUIRE_CLIENT_CHECKS=1` makes it a failure.

use std::time::Duration;

use baton::sim::jenkins::{JenkinsSim, JenkinsSimOptions, JobKind, JobSpec, ParamSpec};
use tokio::process::Command;

const USER: &str = "ci-bot";
const TOKEN: &str = "11223344556677889900aabbccddeeff";
const INSTALL: &str = "pip install -r tests/clients/requirements.txt";

/// Whether python-jenkins can be imported; when not, fails or explains per the env.
async fn client_available() -> bool {
    let import = Command::new("python3")
        .args(["-c", "import jenkins"])
        .output()
        .await;
    if import.is_ok_and(|out| out.status.success()) {
        return true;
    }
    let required = std::env::var("BATON_REQUIRE_CLIENT_CHECKS").is_ok_and(|v| v == "1");
    assert!(
        !required,
        "python-jenkins is not installed: run `{INSTALL}`"
    );
    eprintln!("skipping the python-jenkins check: the library is missing (`{INSTALL}`)");
    false
}

fn add_jobs(sim: &JenkinsSim) {
    sim.add_job(
        "team/deploy",
        JobSpec {
            parameters: vec![
                ParamSpec::new("BRANCH", Some("main")),
                ParamSpec::new("RUN_ID", None),
            ],
            duration: Duration::from_millis(800),
            log: "Checking out\nDeploying feature\nDone".into(),
            ..JobSpec::default()
        },
    );
    sim.add_job(
        "team/hold",
        JobSpec {
            hold: true,
            ..JobSpec::default()
        },
    );
    sim.add_job(
        "team/blocked",
        JobSpec {
            blocked: true,
            ..JobSpec::default()
        },
    );
    sim.add_job(
        "legacy",
        JobSpec {
            kind: JobKind::FreeStyle,
            hold: true,
            ..JobSpec::default()
        },
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_jenkins_agrees_with_the_simulator() {
    if !client_available().await {
        return;
    }
    let sim = JenkinsSim::start_with(JenkinsSimOptions {
        users: vec![(USER.into(), TOKEN.into())],
        ..JenkinsSimOptions::default()
    })
    .expect("simulator starts");
    add_jobs(&sim);
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/jenkins_check.py"
    );
    let run = Command::new("python3")
        .args([script, &sim.url(), USER, TOKEN])
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the check finishes within two minutes")
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "jenkins_check.py failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
    let stats = sim.stats();
    assert_eq!(stats.builds_started_of("team/deploy"), 1, "{stats:?}");
    assert_eq!(
        stats.queue_items_created.get("team/blocked"),
        Some(&1),
        "{stats:?}"
    );
}
