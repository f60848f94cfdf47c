//! Stopping executions: stop and wait (running actions finish, nothing new starts), stop
//! and abandon (running actions abandoned at once), and what may not be stopped.

use super::harness::*;
use crate::engine::state::ActionStatus;
use crate::engine::Rejection;
use crate::model::{ExecutionMode, Pipeline};

/// Source → Test [unit, lint; then package] → Deploy.
fn grouped(mode: ExecutionMode) -> Pipeline {
    pipeline("grouped", mode)
        .stage("Source", vec![git_source("Checkout")])
        .stage(
            "Test",
            vec![
                jenkins("unit", "app-unit"),
                jenkins("lint", "app-lint"),
                jenkins("package", "app-package").order(2),
            ],
        )
        .stage("Deploy", vec![jenkins("Ship", "app-deploy")])
}

/// Source → Release [Smoke (Jenkins) and SignOff (approval) together] → Deploy.
fn release(mode: ExecutionMode) -> Pipeline {
    pipeline("release", mode)
        .stage("Source", vec![git_source("Checkout")])
        .stage(
            "Release",
            vec![jenkins("Smoke", "smoke"), approval("SignOff")],
        )
        .stage("Deploy", vec![jenkins("Ship", "deploy")])
}

fn into_test(h: &mut Harness, id: &str) {
    h.start(id);
    h.pass(id, "Source", "Checkout");
}

#[test]
fn stop_and_wait_lets_running_actions_finish_and_starts_nothing_new() {
    let mut h = Harness::new(grouped(ExecutionMode::Superseded));
    into_test(&mut h, "e01");
    h.tick(1);
    let effects = h.stop("e01", false).unwrap();
    assert!(effects.is_empty(), "{effects:?}");
    h.assert_status("e01", "Stopping");
    assert_eq!(
        h.exec("e01").status_summary.as_deref(),
        Some("stopped: bad commit")
    );
    let request = h.exec("e01").stop.clone().unwrap();
    assert!(!request.abandon);
    assert_eq!(request.reason.as_deref(), Some("bad commit"));
    assert_eq!(request.by.as_deref(), Some("oncall"));
    h.assert_action("e01", "Test", "unit", "InProgress");
    assert_eq!(
        h.occupant("Test"),
        Some("e01"),
        "still inside until its actions finish"
    );

    let effects = h.pass("e01", "Test", "unit");
    assert!(effects.is_empty(), "{effects:?}");
    h.assert_status("e01", "Stopping");

    let effects = h.pass("e01", "Test", "lint");
    assert_eq!(finished(&effects), ["e01"]);
    assert!(run_actions(&effects).is_empty(), "package must not start");
    h.assert_action("e01", "Test", "package", "-");
    h.assert_action("e01", "Test", "lint", "Succeeded");
    h.assert_stage("e01", "Test", "Stopped");
    h.assert_stage("e01", "Deploy", "-");
    h.assert_status("e01", "Stopped");
    assert_eq!(
        h.exec("e01").status_summary.as_deref(),
        Some("stopped: bad commit")
    );
    assert_eq!(h.occupant("Test"), None);
}

#[test]
fn a_failure_while_stopping_still_ends_stopped() {
    let mut h = Harness::new(grouped(ExecutionMode::Superseded));
    into_test(&mut h, "e01");
    h.stop("e01", false).unwrap();
    let unit = h.run_id("e01", "Test", "unit");
    h.fail(&unit, "red");
    h.pass("e01", "Test", "lint");
    h.assert_status("e01", "Stopped");
    h.assert_stage("e01", "Test", "Stopped");
}

#[test]
fn a_second_stop_and_wait_is_a_conflict() {
    let mut h = Harness::new(grouped(ExecutionMode::Superseded));
    into_test(&mut h, "e01");
    h.stop("e01", false).unwrap();
    let refused = h.stop("e01", false);
    assert!(
        matches!(refused, Err(Rejection::Conflict(_))),
        "{refused:?}"
    );
}

#[test]
fn stop_and_wait_can_be_escalated_to_abandon() {
    let mut h = Harness::new(grouped(ExecutionMode::Superseded));
    into_test(&mut h, "e01");
    h.stop("e01", false).unwrap();
    h.pass("e01", "Test", "unit");
    let lint = h.run_id("e01", "Test", "lint");
    let effects = h.stop("e01", true).unwrap();
    assert_eq!(cancels(&effects), [(lint.as_str(), None)]);
    assert_eq!(finished(&effects), ["e01"]);
    h.assert_action("e01", "Test", "unit", "Succeeded");
    h.assert_action("e01", "Test", "lint", "Abandoned");
    h.assert_status("e01", "Stopped");
    assert!(h.exec("e01").stop.as_ref().unwrap().abandon);
}

#[test]
fn stop_and_abandon_abandons_running_actions_at_once_and_cancels_ci_work_only() {
    let mut h = Harness::new(release(ExecutionMode::Superseded));
    h.start("e01");
    h.pass("e01", "Source", "Checkout");
    let smoke = h.run_id("e01", "Release", "Smoke");
    h.started(&smoke, "smoke#42", Some("https://ci/job/smoke/42/"));
    h.tick(7);
    let effects = h.stop("e01", true).unwrap();
    assert_eq!(
        cancels(&effects),
        [(smoke.as_str(), Some("smoke#42"))],
        "an approval has no external work to cancel"
    );
    assert_eq!(finished(&effects), ["e01"]);
    for action in ["Smoke", "SignOff"] {
        h.assert_action("e01", "Release", action, "Abandoned");
        let run = h.action("e01", "Release", action);
        assert_eq!(run.finished_at, Some(h.now));
        assert_eq!(run.error.as_deref(), Some("abandoned: bad commit"));
    }
    h.assert_stage("e01", "Release", "Stopped");
    h.assert_status("e01", "Stopped");
    assert_eq!(h.exec("e01").finished_at, Some(h.now));
    assert_eq!(h.occupant("Release"), None);
}

#[test]
fn stop_and_abandon_lets_the_waiting_execution_in() {
    let mut h = Harness::new(release(ExecutionMode::Superseded));
    for id in ["e01", "e02"] {
        h.start(id);
        h.pass(id, "Source", "Checkout");
    }
    assert_eq!(h.position("e02"), "Waiting(Release)");
    let effects = h.stop("e01", true).unwrap();
    assert_eq!(run_actions(&effects), ["e02.2"], "Smoke of e02 starts");
    assert_eq!(h.position("e02"), "In(Release)");
    assert_eq!(h.occupant("Release"), Some("e02"));
}

#[test]
fn stop_and_wait_lets_the_waiting_execution_in_once_stopped() {
    let mut h = Harness::new(grouped(ExecutionMode::Queued));
    into_test(&mut h, "e01");
    into_test(&mut h, "e02");
    h.stop("e01", false).unwrap();
    assert_eq!(h.position("e02"), "Waiting(Test)");
    h.pass("e01", "Test", "unit");
    let effects = h.pass("e01", "Test", "lint");
    assert_eq!(run_actions(&effects), ["e02.2", "e02.3"]);
    h.assert_status("e01", "Stopped");
}

#[test]
fn stopping_a_waiting_execution_stops_it_at_once() {
    let mut h = Harness::new(grouped(ExecutionMode::Superseded));
    into_test(&mut h, "e01");
    into_test(&mut h, "e02");
    assert_eq!(h.waiting("Test"), ["e02"]);
    let effects = h.stop("e02", false).unwrap();
    assert_eq!(finished(&effects), ["e02"]);
    assert!(cancels(&effects).is_empty());
    h.assert_status("e02", "Stopped");
    assert_eq!(h.position("e02"), "Done");
    assert!(h.waiting("Test").is_empty());
    h.assert_stage("e02", "Test", "-");
    // It does not come back when the stage frees.
    h.pass("e01", "Test", "unit");
    let effects = h.pass("e01", "Test", "lint");
    assert!(!run_actions(&effects).iter().any(|r| r.starts_with("e02")));
    h.assert_status("e02", "Stopped");
}

#[test]
fn stopping_a_finished_execution_is_a_conflict() {
    let mut h = Harness::new(three_stages(ExecutionMode::Superseded));
    // Succeeded.
    h.start("e01");
    for (stage, action) in [
        ("Source", "Checkout"),
        ("Build", "Compile"),
        ("Deploy", "Ship"),
    ] {
        h.pass("e01", stage, action);
    }
    // Failed.
    h.start("e02");
    let checkout = h.run_id("e02", "Source", "Checkout");
    h.fail(&checkout, "no such branch");
    // Superseded: e04 waits at Source behind e03, e05 supersedes it.
    h.start("e03");
    h.start("e04");
    h.start("e05");
    // Stopped.
    h.stop("e03", true).unwrap();
    for (id, status) in [
        ("e01", "Succeeded"),
        ("e02", "Failed"),
        ("e04", "Superseded"),
        ("e03", "Stopped"),
    ] {
        h.assert_status(id, status);
        for abandon in [false, true] {
            let refused = h.stop(id, abandon);
            assert!(
                matches!(refused, Err(Rejection::Conflict(_))),
                "{id}: {refused:?}"
            );
        }
    }
}

#[test]
fn stopping_an_unknown_execution_is_not_found() {
    let mut h = Harness::new(three_stages(ExecutionMode::Superseded));
    let refused = h.stop("e99", false);
    assert!(
        matches!(refused, Err(Rejection::NotFound(_))),
        "{refused:?}"
    );
}

#[test]
fn a_stop_without_a_reason_says_stopped() {
    let mut h = Harness::new(three_stages(ExecutionMode::Superseded));
    h.start("e01");
    h.apply(crate::engine::Event::Stop {
        execution: "e01".into(),
        abandon: true,
        reason: None,
        by: None,
    });
    assert_eq!(h.exec("e01").status_summary.as_deref(), Some("stopped"));
    assert_eq!(
        h.action("e01", "Source", "Checkout").error.as_deref(),
        Some("abandoned")
    );
}

#[test]
fn reports_after_abandon_change_nothing() {
    let mut h = Harness::new(three_stages(ExecutionMode::Superseded));
    h.start("e01");
    h.stop("e01", true).unwrap();
    let before = h.state.clone();
    let effects = h.succeed("e01.1");
    assert!(effects.is_empty());
    assert_eq!(h.state, before);
    assert_eq!(
        h.action("e01", "Source", "Checkout").status,
        Some(ActionStatus::Abandoned)
    );
}
