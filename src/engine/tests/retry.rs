//! Retrying a failed or stopped stage: FAILED_ACTIONS and ALL_ACTIONS, what is kept, run
//! ids, and who may retry.

use super::harness::*;
use crate::engine::state::ActionStatus;
use crate::engine::Rejection;
use crate::model::{ConfigValue, ExecutionMode, Pipeline};

/// Source → Test [unit (namespace Unit), lint; then package using `#{Unit.version}`] →
/// Deploy (using `#{variables.Env}`).
fn pipeline_under_test(mode: ExecutionMode) -> Pipeline {
    pipeline("retry", mode)
        .variable("Env", Some("staging"))
        .stage("Source", vec![git_source("Checkout")])
        .stage(
            "Test",
            vec![
                jenkins("unit", "app-unit").namespace("Unit"),
                jenkins("lint", "app-lint"),
                jenkins("package", "app-package")
                    .order(2)
                    .config("Version", "#{Unit.version}"),
            ],
        )
        .stage(
            "Deploy",
            vec![jenkins("Ship", "app-deploy").config("Target", "#{variables.Env}")],
        )
}

/// Starts `id` and fails its lint after unit succeeded with version 1.2.3.
fn failed_at_test(h: &mut Harness, id: &str) {
    h.start_with(id, &[("Env", "prod")]);
    h.pass(id, "Source", "Checkout");
    let unit = h.run_id(id, "Test", "unit");
    h.complete(&unit, true, &[("version", "1.2.3")]);
    let lint = h.run_id(id, "Test", "lint");
    h.fail(&lint, "style");
    h.assert_status(id, "Failed");
}

/// Succeeds unit with a version, so that package can resolve `#{Unit.version}`.
fn unit_ok(h: &mut Harness, id: &str) {
    let unit = h.run_id(id, "Test", "unit");
    h.complete(&unit, true, &[("version", "1.0.0")]);
}

fn text(value: Option<&ConfigValue>) -> Option<&str> {
    value.and_then(ConfigValue::as_text)
}

#[test]
fn retry_failed_actions_reruns_only_the_failed_ones_then_carries_on() {
    let mut h = Harness::new(pipeline_under_test(ExecutionMode::Superseded));
    failed_at_test(&mut h, "e01");
    assert_eq!(h.run_id("e01", "Test", "unit"), "e01.2");
    assert_eq!(h.run_id("e01", "Test", "lint"), "e01.3");

    h.tick(30);
    let effects = h.retry("e01", "Test", false).unwrap();
    assert_eq!(run_actions(&effects), ["e01.4"], "only lint runs again");
    h.assert_status("e01", "InProgress");
    let execution = h.exec("e01");
    assert_eq!(execution.status_summary, None);
    assert_eq!(execution.finished_at, None);
    assert_eq!(h.position("e01"), "In(Test)");
    assert_eq!(h.occupant("Test"), Some("e01"));
    let stage = h.stage_run("e01", "Test");
    assert_eq!(stage.attempt, 2);
    assert_eq!(stage.started_at, Some(h.now));
    assert_eq!(stage.finished_at, None);
    h.assert_stage("e01", "Test", "InProgress");
    let unit = h.action("e01", "Test", "unit");
    assert_eq!(unit.status, Some(ActionStatus::Succeeded));
    assert_eq!(unit.run_id.as_deref(), Some("e01.2"));
    assert_eq!(unit.attempt, 1);
    assert_eq!(unit.outputs, pairs(&[("version", "1.2.3")]));
    let lint = h.action("e01", "Test", "lint");
    assert_eq!(lint.status, Some(ActionStatus::InProgress));
    assert_eq!(lint.attempt, 2);
    assert_eq!(lint.error, None, "the old error is gone");

    let effects = h.pass("e01", "Test", "lint");
    assert_eq!(run_actions(&effects), ["e01.5"]);
    let package = h.action("e01", "Test", "package");
    assert_eq!(
        text(package.resolved_configuration.get("Version")),
        Some("1.2.3"),
        "outputs of the kept action are still there"
    );
    let effects = h.pass("e01", "Test", "package");
    assert_eq!(run_actions(&effects), ["e01.6"]);
    let ship = h.action("e01", "Deploy", "Ship");
    assert_eq!(
        text(ship.resolved_configuration.get("Target")),
        Some("prod")
    );
    h.pass("e01", "Deploy", "Ship");
    h.assert_status("e01", "Succeeded");
    h.assert_stage("e01", "Test", "Succeeded");
}

#[test]
fn retry_all_actions_reruns_every_action_of_the_stage() {
    let mut h = Harness::new(pipeline_under_test(ExecutionMode::Superseded));
    failed_at_test(&mut h, "e01");
    let effects = h.retry("e01", "Test", true).unwrap();
    assert_eq!(run_actions(&effects), ["e01.4", "e01.5"]);
    let unit = h.action("e01", "Test", "unit");
    assert_eq!(unit.status, Some(ActionStatus::InProgress));
    assert_eq!(unit.attempt, 2);
    assert!(unit.outputs.is_empty());
    h.assert_action("e01", "Test", "package", "-");
    assert_eq!(h.stage_run("e01", "Test").attempt, 2);
    let unit = h.run_id("e01", "Test", "unit");
    h.complete(&unit, true, &[("version", "1.2.4")]);
    h.pass("e01", "Test", "lint");
    assert_eq!(
        text(
            h.action("e01", "Test", "package")
                .resolved_configuration
                .get("Version")
        ),
        Some("1.2.4")
    );
}

#[test]
fn run_ids_are_never_reused_across_retries() {
    let mut h = Harness::new(pipeline_under_test(ExecutionMode::Superseded));
    failed_at_test(&mut h, "e01");
    let mut seen = vec!["e01.1", "e01.2", "e01.3"]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
    for attempt in 0..3 {
        h.retry("e01", "Test", attempt % 2 == 1).unwrap();
        let lint = h.run_id("e01", "Test", "lint");
        assert!(!seen.contains(&lint), "{lint} reused");
        seen.push(lint.clone());
        if attempt % 2 == 1 {
            let unit = h.run_id("e01", "Test", "unit");
            h.complete(&unit, true, &[("version", "2")]);
        }
        h.fail(&lint, "still red");
        h.assert_status("e01", "Failed");
    }
    assert_eq!(h.stage_run("e01", "Test").attempt, 4);
    assert_eq!(h.action("e01", "Test", "lint").attempt, 4);
    assert_eq!(h.exec("e01").runs_started, 7);
}

#[test]
fn only_a_failed_or_stopped_execution_can_be_retried() {
    let mut h = Harness::new(pipeline_under_test(ExecutionMode::Superseded));
    // InProgress.
    h.start("e01");
    // Superseded: e03 waits in front of Source behind e01 until e04 replaces it.
    h.start("e03");
    h.start("e04");
    h.assert_status("e03", "Superseded");
    let refused = h.retry("e01", "Source", false);
    assert!(
        matches!(refused, Err(Rejection::Conflict(_))),
        "{refused:?}"
    );
    let refused = h.retry("e03", "Source", false);
    assert!(
        matches!(refused, Err(Rejection::Conflict(_))),
        "{refused:?}"
    );
    // Succeeded.
    h.pass("e01", "Source", "Checkout");
    unit_ok(&mut h, "e01");
    h.pass("e01", "Test", "lint");
    h.pass("e01", "Test", "package");
    h.pass("e01", "Deploy", "Ship");
    h.assert_status("e01", "Succeeded");
    for stage in ["Source", "Test", "Deploy"] {
        let refused = h.retry("e01", stage, false);
        assert!(
            matches!(refused, Err(Rejection::Conflict(_))),
            "{refused:?}"
        );
    }
}

#[test]
fn only_the_stage_that_failed_can_be_retried() {
    let mut h = Harness::new(pipeline_under_test(ExecutionMode::Superseded));
    failed_at_test(&mut h, "e01");
    for stage in ["Source", "Deploy"] {
        let refused = h.retry("e01", stage, false);
        assert!(
            matches!(refused, Err(Rejection::Conflict(_))),
            "{stage}: {refused:?}"
        );
    }
    let refused = h.retry("e01", "Nope", false);
    assert!(
        matches!(refused, Err(Rejection::NotFound(_))),
        "{refused:?}"
    );
    let refused = h.retry("e99", "Test", false);
    assert!(
        matches!(refused, Err(Rejection::NotFound(_))),
        "{refused:?}"
    );
}

#[test]
fn retry_is_refused_once_a_newer_execution_entered_the_stage() {
    let mut h = Harness::new(pipeline_under_test(ExecutionMode::Superseded));
    h.start_with("e01", &[]);
    h.pass("e01", "Source", "Checkout");
    h.start("e02");
    h.pass("e02", "Source", "Checkout");
    assert_eq!(h.position("e02"), "Waiting(Test)");
    unit_ok(&mut h, "e01");
    let lint = h.run_id("e01", "Test", "lint");
    h.fail(&lint, "red");
    assert_eq!(h.position("e02"), "In(Test)", "the failure let e02 in");
    let refused = h.retry("e01", "Test", false);
    assert!(
        matches!(refused, Err(Rejection::Conflict(_))),
        "{refused:?}"
    );
    // Still refused once e02 has left the stage.
    unit_ok(&mut h, "e02");
    h.pass("e02", "Test", "lint");
    h.pass("e02", "Test", "package");
    let refused = h.retry("e01", "Test", true);
    assert!(
        matches!(refused, Err(Rejection::Conflict(_))),
        "{refused:?}"
    );
}

#[test]
fn retry_is_allowed_while_a_newer_execution_only_waits_in_front() {
    let mut h = Harness::new(pipeline_under_test(ExecutionMode::Superseded));
    h.start("e01");
    h.pass("e01", "Source", "Checkout");
    h.disable("Test");
    h.start("e02");
    h.pass("e02", "Source", "Checkout");
    unit_ok(&mut h, "e01");
    let lint = h.run_id("e01", "Test", "lint");
    h.fail(&lint, "red");
    assert_eq!(h.position("e02"), "Waiting(Test)");
    h.retry("e01", "Test", false).unwrap();
    assert_eq!(h.occupant("Test"), Some("e01"));
    h.enable("Test");
    assert_eq!(
        h.position("e02"),
        "Waiting(Test)",
        "e01 holds the stage again"
    );
    h.pass("e01", "Test", "lint");
    h.pass("e01", "Test", "package");
    assert_eq!(h.position("e01"), "In(Deploy)");
    assert_eq!(h.position("e02"), "In(Test)");
}

#[test]
fn a_retried_stage_is_locked_again() {
    let mut h = Harness::new(pipeline_under_test(ExecutionMode::Queued));
    failed_at_test(&mut h, "e01");
    h.retry("e01", "Test", false).unwrap();
    h.start("e02");
    h.pass("e02", "Source", "Checkout");
    assert_eq!(h.position("e02"), "Waiting(Test)");
    h.pass("e01", "Test", "lint");
    let effects = h.pass("e01", "Test", "package");
    assert_eq!(run_actions(&effects), ["e01.6", "e02.2", "e02.3"]);
}

#[test]
fn a_stopped_execution_can_retry_its_stopped_stage() {
    let p = pipeline("release", ExecutionMode::Superseded)
        .stage("Source", vec![git_source("Checkout")])
        .stage(
            "Release",
            vec![jenkins("Smoke", "smoke"), approval("SignOff")],
        )
        .stage("Deploy", vec![jenkins("Ship", "deploy")]);
    let mut h = Harness::new(p);
    h.start("e01");
    h.pass("e01", "Source", "Checkout");
    h.stop("e01", true).unwrap();
    h.assert_stage("e01", "Release", "Stopped");
    let effects = h.retry("e01", "Release", false).unwrap();
    assert_eq!(run_actions(&effects), ["e01.4"], "Smoke runs again");
    assert_eq!(timers(&effects).len(), 2, "Smoke and SignOff");
    h.assert_status("e01", "InProgress");
    assert_eq!(h.exec("e01").stop, None);
    h.assert_action("e01", "Release", "SignOff", "InProgress");
    assert_eq!(h.run_id("e01", "Release", "SignOff"), "e01.5");
    h.pass("e01", "Release", "Smoke");
    h.approve("e01", "Release", "SignOff", "alice").unwrap();
    h.pass("e01", "Deploy", "Ship");
    h.assert_status("e01", "Succeeded");
}

#[test]
fn a_stage_stopped_between_groups_resumes_with_its_next_group() {
    let mut h = Harness::new(pipeline_under_test(ExecutionMode::Superseded));
    h.start("e01");
    h.pass("e01", "Source", "Checkout");
    h.stop("e01", false).unwrap();
    let unit = h.run_id("e01", "Test", "unit");
    h.complete(&unit, true, &[("version", "7")]);
    h.pass("e01", "Test", "lint");
    h.assert_status("e01", "Stopped");
    let effects = h.retry("e01", "Test", false).unwrap();
    assert_eq!(run_actions(&effects), ["e01.4"]);
    h.assert_action("e01", "Test", "package", "InProgress");
    assert_eq!(
        h.run_id("e01", "Test", "unit"),
        "e01.2",
        "unit was not re-run"
    );
}

#[test]
fn an_execution_stopped_while_waiting_cannot_be_retried() {
    let mut h = Harness::new(pipeline_under_test(ExecutionMode::Superseded));
    h.start("e01");
    h.pass("e01", "Source", "Checkout");
    h.start("e02");
    h.pass("e02", "Source", "Checkout");
    h.stop("e02", false).unwrap();
    for stage in ["Source", "Test", "Deploy"] {
        let refused = h.retry("e02", stage, false);
        assert!(
            matches!(refused, Err(Rejection::Conflict(_))),
            "{stage}: {refused:?}"
        );
    }
}

#[test]
fn retry_in_parallel_mode_needs_no_lock() {
    let mut h = Harness::new(pipeline_under_test(ExecutionMode::Parallel));
    failed_at_test(&mut h, "e01");
    h.retry("e01", "Test", false).unwrap();
    assert!(h.state.gates.occupant.is_empty());
    h.pass("e01", "Test", "lint");
    h.pass("e01", "Test", "package");
    h.pass("e01", "Deploy", "Ship");
    h.assert_status("e01", "Succeeded");
}

#[test]
fn a_stopping_execution_can_be_retried_only_once_stopped() {
    let mut h = Harness::new(pipeline_under_test(ExecutionMode::Superseded));
    h.start("e01");
    h.stop("e01", false).unwrap();
    let refused = h.retry("e01", "Source", false);
    assert!(
        matches!(refused, Err(Rejection::Conflict(_))),
        "{refused:?}"
    );
    h.pass("e01", "Source", "Checkout");
    h.assert_status("e01", "Stopped");
    h.assert_stage("e01", "Source", "Stopped");
    let effects = h.retry("e01", "Source", false).unwrap();
    assert_eq!(
        run_actions(&effects),
        ["e01.2", "e01.3"],
        "Checkout succeeded and is kept; the stage completes and Test starts"
    );
    assert_eq!(h.run_id("e01", "Source", "Checkout"), "e01.1");
    h.assert_stage("e01", "Source", "Succeeded");
    assert_eq!(h.stage_run("e01", "Source").attempt, 2);
    assert_eq!(h.position("e01"), "In(Test)");
}

#[test]
fn reports_and_timers_of_a_run_replaced_by_a_retry_change_nothing() {
    let mut h = Harness::new(pipeline_under_test(ExecutionMode::Superseded));
    h.start("e01");
    h.pass("e01", "Source", "Checkout");
    h.stop("e01", true).unwrap();
    h.retry("e01", "Test", false).unwrap();
    let old = "e01.3";
    assert_eq!(h.run_id("e01", "Test", "lint"), "e01.5");
    let before = h.state.clone();
    h.tick(24 * 60);
    assert!(h.timeout(old).is_empty());
    assert!(h.succeed(old).is_empty());
    assert_eq!(h.state, before);
    // External work of the old run that turns up only now is stopped.
    let effects = h.started(old, "lint#1", None);
    assert_eq!(cancels(&effects), [(old, Some("lint#1"))]);
    assert_eq!(h.state, before);
}
