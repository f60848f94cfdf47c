//! How one execution moves through its stages: runOrder groups, run ids, failures, the
//! definition version it follows, and what each step says it changed.

use chrono::Duration;

use super::harness::*;
use crate::engine::state::{ExecutionStatus, Trigger};
use crate::engine::{Effect, Event, Rejection};
use crate::model::ExecutionMode;

/// Source → Test [unit, lint in runOrder 1; package in runOrder 2] → Deploy.
fn grouped() -> crate::model::Pipeline {
    pipeline("grouped", ExecutionMode::Superseded)
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

#[test]
fn an_execution_runs_every_stage_to_success() {
    let mut h = Harness::new(three_stages(ExecutionMode::Superseded));
    let effects = h.start("e01");
    let started = h.now;
    assert_eq!(
        effects,
        vec![
            Effect::RunAction {
                execution: "e01".into(),
                run_id: "e01.1".into()
            },
            Effect::ArmTimer {
                execution: "e01".into(),
                run_id: "e01.1".into(),
                at: started + Duration::minutes(60)
            },
        ]
    );
    h.assert_status("e01", "InProgress");
    assert_eq!(h.position("e01"), "In(Source)");
    h.assert_stage("e01", "Source", "InProgress");
    h.assert_stage("e01", "Build", "-");
    h.assert_action("e01", "Source", "Checkout", "InProgress");
    assert_eq!(h.occupant("Source"), Some("e01"));

    h.tick(2);
    let effects = h.complete("e01.1", true, &[("CommitId", "abc123")]);
    assert_eq!(run_actions(&effects), ["e01.2"]);
    assert_eq!(
        timers(&effects),
        [("e01.2", h.now + Duration::hours(24))],
        "a CI action gets 24 hours by default"
    );
    h.assert_stage("e01", "Source", "Succeeded");
    h.assert_stage("e01", "Build", "InProgress");
    assert_eq!(h.position("e01"), "In(Build)");
    assert_eq!(h.occupant("Source"), None);
    assert_eq!(h.occupant("Build"), Some("e01"));
    let checkout = h.action("e01", "Source", "Checkout");
    assert_eq!(checkout.outputs, pairs(&[("CommitId", "abc123")]));
    assert_eq!(checkout.percent_complete, Some(100));
    assert_eq!(checkout.finished_at, Some(h.now));

    h.tick(10);
    assert_eq!(run_actions(&h.succeed("e01.2")), ["e01.3"]);
    h.tick(5);
    let effects = h.succeed("e01.3");
    assert_eq!(
        effects,
        vec![Effect::Finished {
            execution: "e01".into()
        }]
    );
    h.assert_status("e01", "Succeeded");
    assert_eq!(h.position("e01"), "Done");
    let execution = h.exec("e01");
    assert_eq!(execution.finished_at, Some(h.now));
    assert_eq!(execution.status_summary, None);
    assert_eq!(execution.runs_started, 3);
    for stage in &execution.stages {
        assert_eq!(name_of(stage.status), "Succeeded", "{}", stage.name);
        assert_eq!(stage.attempt, 1, "{}", stage.name);
        assert!(stage.started_at.is_some() && stage.finished_at.is_some());
        assert_eq!(stage.actions[0].attempt, 1);
    }
    assert!(h.state.gates.occupant.is_empty());
    assert!(h.state.gates.waiting.is_empty());
}

#[test]
fn start_records_trigger_revision_version_and_time() {
    let mut h = Harness::new(three_stages(ExecutionMode::Superseded));
    let trigger = Trigger {
        kind: "Webhook".into(),
        detail: Some("push to main".into()),
        by: None,
    };
    h.apply(Event::Start {
        execution: "e01".into(),
        version: 1,
        trigger: trigger.clone(),
        variables: Default::default(),
        revision: Some("abc123".into()),
    });
    let execution = h.exec("e01");
    assert_eq!(execution.pipeline, "app");
    assert_eq!(execution.version, 1);
    assert_eq!(execution.trigger, trigger);
    assert_eq!(execution.revision.as_deref(), Some("abc123"));
    assert_eq!(execution.started_at, h.now);
    assert_eq!(execution.updated_at, h.now);
    assert_eq!(execution.stop, None);
    assert_eq!(
        execution
            .stages
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>(),
        ["Source", "Build", "Deploy"]
    );
}

#[test]
fn start_refuses_a_duplicate_id_and_an_unknown_version() {
    let mut h = Harness::new(three_stages(ExecutionMode::Superseded));
    h.start("e01");
    let again = h.start_event("e01", &[]);
    assert!(matches!(h.try_apply(again), Err(Rejection::Conflict(_))));
    let unknown = Event::Start {
        execution: "e02".into(),
        version: 9,
        trigger: Trigger {
            kind: "StartPipelineExecution".into(),
            detail: None,
            by: None,
        },
        variables: Default::default(),
        revision: None,
    };
    assert!(matches!(h.try_apply(unknown), Err(Rejection::Invalid(_))));
    assert!(!h.state.executions.contains_key("e02"));
}

#[test]
fn actions_of_one_run_order_start_together_and_the_next_group_waits_for_them() {
    let mut h = Harness::new(grouped());
    h.start("e01");
    let effects = h.pass("e01", "Source", "Checkout");
    assert_eq!(run_actions(&effects), ["e01.2", "e01.3"]);
    assert_eq!(timers(&effects).len(), 2);
    h.assert_action("e01", "Test", "unit", "InProgress");
    h.assert_action("e01", "Test", "lint", "InProgress");
    h.assert_action("e01", "Test", "package", "-");

    let effects = h.pass("e01", "Test", "unit");
    assert!(effects.is_empty(), "{effects:?}");
    h.assert_action("e01", "Test", "package", "-");

    let effects = h.pass("e01", "Test", "lint");
    assert_eq!(run_actions(&effects), ["e01.4"]);
    h.assert_action("e01", "Test", "package", "InProgress");
    h.assert_stage("e01", "Test", "InProgress");

    let effects = h.pass("e01", "Test", "package");
    assert_eq!(run_actions(&effects), ["e01.5"]);
    h.assert_stage("e01", "Test", "Succeeded");
    h.pass("e01", "Deploy", "Ship");
    h.assert_status("e01", "Succeeded");
}

#[test]
fn a_failed_action_lets_its_group_finish_then_fails_the_stage_and_the_execution() {
    let mut h = Harness::new(grouped());
    h.start("e01");
    h.pass("e01", "Source", "Checkout");
    let unit = h.run_id("e01", "Test", "unit");
    let effects = h.fail(&unit, "3 tests failed");
    assert!(effects.is_empty(), "lint still runs: {effects:?}");
    h.assert_action("e01", "Test", "unit", "Failed");
    h.assert_action("e01", "Test", "lint", "InProgress");
    h.assert_stage("e01", "Test", "InProgress");
    h.assert_status("e01", "InProgress");
    assert_eq!(h.occupant("Test"), Some("e01"));

    let effects = h.pass("e01", "Test", "lint");
    assert_eq!(
        effects,
        vec![Effect::Finished {
            execution: "e01".into()
        }],
        "nothing later starts"
    );
    h.assert_action("e01", "Test", "package", "-");
    h.assert_stage("e01", "Test", "Failed");
    h.assert_stage("e01", "Deploy", "-");
    h.assert_status("e01", "Failed");
    assert_eq!(
        h.exec("e01").status_summary.as_deref(),
        Some("Test/unit: 3 tests failed")
    );
    assert_eq!(
        h.action("e01", "Test", "unit").error.as_deref(),
        Some("3 tests failed")
    );
    assert_eq!(h.occupant("Test"), None, "a failure releases the lock");
}

#[test]
fn the_failure_summary_names_every_failed_action() {
    let mut h = Harness::new(grouped());
    h.start("e01");
    h.pass("e01", "Source", "Checkout");
    let unit = h.run_id("e01", "Test", "unit");
    let lint = h.run_id("e01", "Test", "lint");
    h.fail(&lint, "style");
    h.fail(&unit, "red");
    h.assert_status("e01", "Failed");
    assert_eq!(
        h.exec("e01").status_summary.as_deref(),
        Some("Test/unit: red; Test/lint: style")
    );
}

#[test]
fn a_failure_in_the_last_group_fails_the_stage() {
    let mut h = Harness::new(grouped());
    h.start("e01");
    h.pass("e01", "Source", "Checkout");
    h.pass("e01", "Test", "unit");
    h.pass("e01", "Test", "lint");
    let package = h.run_id("e01", "Test", "package");
    let effects = h.fail(&package, "no space left");
    assert_eq!(finished(&effects), ["e01"]);
    assert!(run_actions(&effects).is_empty());
    h.assert_stage("e01", "Test", "Failed");
    h.assert_status("e01", "Failed");
}

#[test]
fn run_ids_count_up_per_execution_and_are_never_shared() {
    let mut h = Harness::new(grouped());
    h.start("e01");
    h.pass("e01", "Source", "Checkout");
    assert_eq!(h.run_id("e01", "Source", "Checkout"), "e01.1");
    assert_eq!(h.run_id("e01", "Test", "unit"), "e01.2");
    assert_eq!(h.run_id("e01", "Test", "lint"), "e01.3");
    h.start("e02");
    assert_eq!(h.run_id("e02", "Source", "Checkout"), "e02.1");
    assert_eq!(h.exec("e01").runs_started, 3);
}

#[test]
fn an_execution_follows_the_definition_version_it_started_with() {
    let v1 = three_stages(ExecutionMode::Parallel);
    let v2 = three_stages(ExecutionMode::Parallel).stage("Verify", vec![jenkins("Smoke", "smoke")]);
    let mut h = Harness::with_versions(vec![v1, v2]);
    let mut old = h.start_event("e01", &[]);
    if let Event::Start { version, .. } = &mut old {
        *version = 1;
    }
    h.apply(old);
    h.start("e02");
    assert_eq!(h.exec("e01").stages.len(), 3);
    assert_eq!(h.exec("e02").stages.len(), 4);
    for (stage, action) in [
        ("Source", "Checkout"),
        ("Build", "Compile"),
        ("Deploy", "Ship"),
    ] {
        h.pass("e01", stage, action);
    }
    h.assert_status("e01", "Succeeded");
    h.pass("e02", "Source", "Checkout");
    h.pass("e02", "Build", "Compile");
    h.pass("e02", "Deploy", "Ship");
    h.assert_status("e02", "InProgress");
    assert_eq!(h.position("e02"), "In(Verify)");
}

#[test]
fn a_step_names_the_executions_it_touched_and_whether_gates_changed() {
    let mut h = Harness::new(grouped());
    h.start("e01");
    assert_eq!(h.last.touched.iter().collect::<Vec<_>>(), ["e01"]);
    assert!(h.last.gates_changed);
    h.start("e02");
    assert!(h.last.touched.contains("e02"));
    assert!(!h.last.touched.contains("e01"));

    h.pass("e01", "Source", "Checkout");
    assert!(
        h.last.gates_changed,
        "e01 moved to Test and e02 into Source"
    );
    assert!(h.last.touched.contains("e01") && h.last.touched.contains("e02"));

    h.pass("e01", "Test", "unit");
    assert!(!h.last.gates_changed, "lint still runs; e01 stays in Test");
    assert_eq!(h.last.touched.iter().collect::<Vec<_>>(), ["e01"]);
    assert_eq!(h.exec("e01").status, ExecutionStatus::InProgress);
}
