//! What executors report about action runs (started, progress, completed) and timeouts.
//! Reports about runs that no longer count change nothing: callbacks are hints, and a late
//! or duplicated one must not change a result.

use chrono::Duration;

use super::harness::*;
use crate::engine::state::ActionStatus;
use crate::engine::{ActionOutcome, Effect, Event, Step};
use crate::model::ExecutionMode;

fn progress(run_id: &str) -> Event {
    Event::ActionProgress {
        execution: execution_of(run_id),
        run_id: run_id.to_string(),
        external_id: None,
        external_url: None,
        percent_complete: None,
        summary: None,
    }
}

/// Applies `event` and checks that it changed nothing and asked for nothing.
fn assert_no_op(h: &mut Harness, event: Event) {
    let before = h.state.clone();
    let effects = h.apply(event.clone());
    assert!(effects.is_empty(), "{event:?} gave {effects:?}");
    assert_eq!(h.state, before, "{event:?} changed the state");
    assert_eq!(h.last, Step::default(), "{event:?}");
}

#[test]
fn action_started_records_the_external_id_and_url() {
    let mut h = Harness::new(three_stages(ExecutionMode::Superseded));
    h.start("e01");
    h.pass("e01", "Source", "Checkout");
    let effects = h.started("e01.2", "app-build#7", Some("https://ci/job/app-build/7/"));
    assert!(effects.is_empty());
    let run = h.action("e01", "Build", "Compile");
    assert_eq!(run.external_id.as_deref(), Some("app-build#7"));
    assert_eq!(
        run.external_url.as_deref(),
        Some("https://ci/job/app-build/7/")
    );
    assert_eq!(run.status, Some(ActionStatus::InProgress));
    // Found again after a crash, without a URL: the id is updated, the URL kept.
    h.started("e01.2", "app-build#7b", None);
    let run = h.action("e01", "Build", "Compile");
    assert_eq!(run.external_id.as_deref(), Some("app-build#7b"));
    assert_eq!(
        run.external_url.as_deref(),
        Some("https://ci/job/app-build/7/")
    );
}

#[test]
fn action_progress_updates_percent_summary_and_url() {
    let mut h = Harness::new(three_stages(ExecutionMode::Superseded));
    h.start("e01");
    h.apply(Event::ActionProgress {
        execution: "e01".into(),
        run_id: "e01.1".into(),
        external_id: Some("clone-1".into()),
        external_url: Some("https://git/run/1".into()),
        percent_complete: Some(40),
        summary: Some("cloning".into()),
    });
    let run = h.action("e01", "Source", "Checkout");
    assert_eq!(run.percent_complete, Some(40));
    assert_eq!(run.summary.as_deref(), Some("cloning"));
    assert_eq!(run.external_id.as_deref(), Some("clone-1"));
    assert_eq!(run.external_url.as_deref(), Some("https://git/run/1"));
    h.apply(Event::ActionProgress {
        execution: "e01".into(),
        run_id: "e01.1".into(),
        external_id: None,
        external_url: None,
        percent_complete: Some(250),
        summary: None,
    });
    let run = h.action("e01", "Source", "Checkout");
    assert_eq!(run.percent_complete, Some(100), "percent is capped at 100");
    assert_eq!(
        run.summary.as_deref(),
        Some("cloning"),
        "kept when not given"
    );
    assert_eq!(run.external_url.as_deref(), Some("https://git/run/1"));
    assert_eq!(run.status, Some(ActionStatus::InProgress));
}

#[test]
fn action_completed_records_status_outputs_and_summary() {
    let mut h = Harness::new(three_stages(ExecutionMode::Parallel));
    h.start("e01");
    h.tick(3);
    h.report(
        "e01.1",
        ActionOutcome::Succeeded {
            outputs: pairs(&[("CommitId", "abc"), ("BranchName", "main")]),
            summary: Some("checked out abc".into()),
        },
    );
    let run = h.action("e01", "Source", "Checkout");
    assert_eq!(run.status, Some(ActionStatus::Succeeded));
    assert_eq!(run.summary.as_deref(), Some("checked out abc"));
    assert_eq!(run.outputs.len(), 2);
    assert_eq!(run.finished_at, Some(h.now));

    h.report(
        "e01.2",
        ActionOutcome::Failed {
            error: "exit code 2".into(),
            outputs: pairs(&[("BUILD_NUMBER", "12")]),
        },
    );
    let run = h.action("e01", "Build", "Compile");
    assert_eq!(run.status, Some(ActionStatus::Failed));
    assert_eq!(run.error.as_deref(), Some("exit code 2"));
    assert_eq!(run.outputs, pairs(&[("BUILD_NUMBER", "12")]));
    h.assert_status("e01", "Failed");
}

#[test]
fn stale_and_duplicate_reports_change_nothing() {
    let mut h = Harness::new(three_stages(ExecutionMode::Superseded));
    h.start("e01");
    h.pass("e01", "Source", "Checkout");
    let done = "e01.1";
    // A duplicate completion, even with another outcome.
    assert_no_op(
        &mut h,
        Event::ActionCompleted {
            execution: "e01".into(),
            run_id: done.into(),
            outcome: ActionOutcome::Failed {
                error: "late failure".into(),
                outputs: Default::default(),
            },
        },
    );
    assert_no_op(
        &mut h,
        Event::ActionCompleted {
            execution: "e01".into(),
            run_id: done.into(),
            outcome: ActionOutcome::Succeeded {
                outputs: pairs(&[("CommitId", "forged")]),
                summary: None,
            },
        },
    );
    // Progress and timeouts of a finished run.
    assert_no_op(&mut h, progress(done));
    h.tick(24 * 60);
    assert_no_op(
        &mut h,
        Event::Timeout {
            execution: "e01".into(),
            run_id: done.into(),
        },
    );
    // Run ids nobody issued, and executions nobody started.
    for run_id in ["e01.99", "e99.1"] {
        assert_no_op(
            &mut h,
            Event::ActionCompleted {
                execution: execution_of(run_id),
                run_id: run_id.into(),
                outcome: ActionOutcome::Succeeded {
                    outputs: Default::default(),
                    summary: None,
                },
            },
        );
        assert_no_op(&mut h, progress(run_id));
        assert_no_op(
            &mut h,
            Event::Timeout {
                execution: execution_of(run_id),
                run_id: run_id.into(),
            },
        );
    }
    assert_eq!(
        h.action("e01", "Source", "Checkout").status,
        Some(ActionStatus::Succeeded)
    );
}

#[test]
fn a_duplicate_started_report_after_completion_changes_no_state() {
    let mut h = Harness::new(three_stages(ExecutionMode::Superseded));
    h.start("e01");
    h.started("e01.1", "clone-1", None);
    h.succeed("e01.1");
    let before = h.state.clone();
    let effects = h.started("e01.1", "clone-1", None);
    assert_eq!(h.state, before);
    assert!(run_actions(&effects).is_empty());
}

#[test]
fn a_duplicated_completion_is_harmless() {
    let mut h = Harness::new(three_stages(ExecutionMode::Superseded));
    h.start("e01");
    let first = h.succeed("e01.1");
    assert_eq!(run_actions(&first), ["e01.2"]);
    let before = h.state.clone();
    let second = h.succeed("e01.1");
    assert!(second.is_empty(), "no second RunAction: {second:?}");
    assert_eq!(h.state, before);
}

#[test]
fn work_that_starts_after_its_run_was_abandoned_is_cancelled() {
    let mut h = Harness::new(three_stages(ExecutionMode::Superseded));
    h.start("e01");
    h.pass("e01", "Source", "Checkout");
    let effects = h.stop("e01", true).unwrap();
    assert_eq!(
        cancels(&effects),
        [("e01.2", None)],
        "no external id known yet"
    );
    let before = h.state.clone();
    let effects = h.started("e01.2", "app-build#8", Some("https://ci/job/app-build/8/"));
    assert_eq!(
        effects,
        vec![Effect::CancelAction {
            execution: "e01".into(),
            run_id: "e01.2".into(),
            external_id: Some("app-build#8".into()),
        }]
    );
    assert_eq!(h.state, before, "the abandoned run stays abandoned");
    assert_no_op(&mut h, progress("e01.2"));
    assert_no_op(
        &mut h,
        Event::ActionCompleted {
            execution: "e01".into(),
            run_id: "e01.2".into(),
            outcome: ActionOutcome::Succeeded {
                outputs: Default::default(),
                summary: None,
            },
        },
    );
    h.assert_action("e01", "Build", "Compile", "Abandoned");
    h.assert_status("e01", "Stopped");
}

#[test]
fn work_that_starts_after_its_run_timed_out_is_cancelled() {
    let mut h = Harness::new(three_stages(ExecutionMode::Superseded));
    h.start("e01");
    h.tick(60);
    h.timeout("e01.1");
    h.assert_action("e01", "Source", "Checkout", "Failed");
    let effects = h.started("e01.1", "clone-9", None);
    assert_eq!(cancels(&effects), [("e01.1", Some("clone-9"))]);
}

// --- Timeouts -----------------------------------------------------------------------------

#[test]
fn timers_are_armed_at_start_plus_the_timeout() {
    let p = pipeline("timers", ExecutionMode::Superseded)
        .stage(
            "Source",
            vec![git_source("Default"), git_source("Quick").timeout(5)],
        )
        .stage(
            "Approve",
            vec![approval("Default"), approval("Quick").timeout(30)],
        )
        .stage(
            "Build",
            vec![jenkins("Default", "a"), jenkins("Quick", "b").timeout(90)],
        );
    let mut h = Harness::new(p);
    let effects = h.start("e01");
    let at = h.now;
    assert_eq!(
        timers(&effects),
        [
            ("e01.1", at + Duration::minutes(60)),
            ("e01.2", at + Duration::minutes(5)),
        ]
    );
    h.tick(1);
    h.succeed("e01.1");
    let effects = h.succeed("e01.2");
    let at = h.now;
    assert!(
        run_actions(&effects).is_empty(),
        "approvals run no external work"
    );
    assert_eq!(
        timers(&effects),
        [
            ("e01.3", at + Duration::days(7)),
            ("e01.4", at + Duration::minutes(30)),
        ]
    );
    assert_eq!(
        h.action("e01", "Approve", "Default").deadline,
        Some(at + Duration::days(7))
    );
    h.approve("e01", "Approve", "Default", "alice").unwrap();
    h.tick(1);
    let effects = h.approve("e01", "Approve", "Quick", "alice").unwrap();
    let at = h.now;
    assert_eq!(run_actions(&effects), ["e01.5", "e01.6"]);
    assert_eq!(
        timers(&effects),
        [
            ("e01.5", at + Duration::hours(24)),
            ("e01.6", at + Duration::minutes(90)),
        ]
    );
}

#[test]
fn an_early_timeout_changes_nothing_but_arms_the_timer_again() {
    let mut h = Harness::new(three_stages(ExecutionMode::Superseded));
    h.start("e01");
    let deadline = h.action("e01", "Source", "Checkout").deadline.unwrap();
    h.tick(59);
    let before = h.state.clone();
    let effects = h.timeout("e01.1");
    assert_eq!(
        effects,
        vec![Effect::ArmTimer {
            execution: "e01".into(),
            run_id: "e01.1".into(),
            at: deadline,
        }]
    );
    h.assert_action("e01", "Source", "Checkout", "InProgress");
    assert_eq!(h.state, before, "an early timer must not change the state");
}

#[test]
fn a_timeout_at_the_deadline_fails_a_ci_action_and_cancels_its_work() {
    let mut h = Harness::new(three_stages(ExecutionMode::Superseded));
    h.start("e01");
    h.pass("e01", "Source", "Checkout");
    h.started("e01.2", "app-build#3", None);
    h.tick(24 * 60);
    let effects = h.timeout("e01.2");
    assert_eq!(cancels(&effects), [("e01.2", Some("app-build#3"))]);
    assert_eq!(finished(&effects), ["e01"]);
    h.assert_action("e01", "Build", "Compile", "Failed");
    let run = h.action("e01", "Build", "Compile");
    assert_eq!(run.error.as_deref(), Some("timed out after 1440 minutes"));
    assert_eq!(run.finished_at, Some(h.now));
    h.assert_stage("e01", "Build", "Failed");
    h.assert_status("e01", "Failed");
    let summary = h.exec("e01").status_summary.clone().unwrap();
    assert!(
        summary.contains("Build/Compile") && summary.contains("timed out"),
        "{summary}"
    );
    // The CI server finishing after all does not bring the result back.
    assert_no_op(
        &mut h,
        Event::ActionCompleted {
            execution: "e01".into(),
            run_id: "e01.2".into(),
            outcome: ActionOutcome::Succeeded {
                outputs: Default::default(),
                summary: None,
            },
        },
    );
    assert_no_op(
        &mut h,
        Event::Timeout {
            execution: "e01".into(),
            run_id: "e01.2".into(),
        },
    );
}

#[test]
fn a_late_timeout_fails_the_action_too() {
    let mut h = Harness::new(three_stages(ExecutionMode::Superseded));
    h.start("e01");
    h.tick(3 * 60);
    let effects = h.timeout("e01.1");
    assert_eq!(cancels(&effects), [("e01.1", None)]);
    h.assert_action("e01", "Source", "Checkout", "Failed");
    assert_eq!(
        h.action("e01", "Source", "Checkout").error.as_deref(),
        Some("timed out after 60 minutes")
    );
}

#[test]
fn an_approval_timeout_fails_it_without_a_cancel_and_frees_the_stage() {
    let p = pipeline("gated", ExecutionMode::Superseded)
        .stage("Source", vec![git_source("Checkout")])
        .stage("Release", vec![approval("SignOff")])
        .stage("Deploy", vec![jenkins("Ship", "deploy")]);
    let mut h = Harness::new(p);
    for id in ["e01", "e02"] {
        h.start(id);
        h.pass(id, "Source", "Checkout");
    }
    assert_eq!(h.position("e02"), "Waiting(Release)");
    h.tick(7 * 24 * 60);
    let effects = h.timeout("e01.2");
    assert!(cancels(&effects).is_empty(), "{effects:?}");
    assert_eq!(finished(&effects), ["e01"]);
    h.assert_action("e01", "Release", "SignOff", "Failed");
    let error = h.action("e01", "Release", "SignOff").error.clone().unwrap();
    assert!(error.contains("timed out"), "{error}");
    h.assert_status("e01", "Failed");
    assert_eq!(
        h.position("e02"),
        "In(Release)",
        "a timeout is a failure: the lock goes"
    );
}

#[test]
fn a_timeout_while_stopping_ends_the_execution_stopped() {
    let mut h = Harness::new(three_stages(ExecutionMode::Superseded));
    h.start("e01");
    h.stop("e01", false).unwrap();
    h.tick(60);
    let effects = h.timeout("e01.1");
    assert_eq!(finished(&effects), ["e01"]);
    h.assert_status("e01", "Stopped");
    h.assert_stage("e01", "Source", "Stopped");
}
