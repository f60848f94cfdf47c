//! The TeamCity simulator against a real client library: `tests/clients/teamcity_check.py`
//! drives dohq-teamcity (pinned in `tests/clients/requirements.txt`) through the queue,
//! a build's life, its results and a queue removal, and fails on the first answer a real
//! TeamCity would not give.
//!
//! Without the library the test says so and passes, unless `BATON_REQUIRE_CLIENT_CHECKS=1`
//! (as in CI) makes a missing library a failure.

use std::time::Duration;

use baton::sim::teamcity::{BuildTypeSpec, TeamCitySim, TeamCitySimOptions, TestCounts};
use tokio::process::Command;

const TOKEN: &str = "tc-client-check-token-42";
const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/clients/teamcity_check.py"
);
const INSTALL: &str = "pip install -r tests/clients/requirements.txt";

/// Whether `python3` can import the client library.
async fn library_available() -> bool {
    Command::new("python3")
        .args(["-c", "import dohq_teamcity"])
        .output()
        .await
        .is_ok_and(|output| output.status.success())
}

/// The build configurations the script expects (see its docstring).
fn configure(sim: &TeamCitySim) {
    sim.add_build_type(
        "Client_Build",
        BuildTypeSpec {
            duration: Duration::from_millis(300),
            status: "FAILURE".into(),
            tests: Some(TestCounts {
                passed: 3,
                failed: 1,
                ignored: 1,
            }),
            resulting_properties: vec![("env.IMAGE".into(), "registry/app:7".into())],
            artifacts: vec![
                ("app.jar".into(), "jar".into()),
                ("reports/index.html".into(), "<html/>".into()),
            ],
            log: "Step 1/2: build\nStep 2/2: test\n".into(),
            ..BuildTypeSpec::default()
        },
    );
    sim.add_build_type(
        "Client_Queued",
        BuildTypeSpec {
            stay_queued: true,
            ..BuildTypeSpec::default()
        },
    );
}

#[tokio::test]
async fn dohq_teamcity_agrees_with_the_simulator() {
    if !library_available().await {
        let required = std::env::var("BATON_REQUIRE_CLIENT_CHECKS").is_ok_and(|v| v == "1");
        let notice = format!(
            "python3 cannot import dohq_teamcity, so the TeamCity client check cannot run; \
             install it with `{INSTALL}`"
        );
        assert!(!required, "{notice} (BATON_REQUIRE_CLIENT_CHECKS=1)");
        eprintln!("skipped: {notice}");
        return;
    }
    let sim = TeamCitySim::start_with(TeamCitySimOptions {
        token: Some(TOKEN.into()),
        ..TeamCitySimOptions::default()
    })
    .expect("simulator");
    configure(&sim);

    let run = Command::new("python3")
        .arg(SCRIPT)
        .arg(sim.url())
        .arg(TOKEN)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the client check finished within two minutes")
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the client check failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains("dohq-teamcity agrees with the server"),
        "{stdout}"
    );
}
