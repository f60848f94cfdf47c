//! Stage transitions: a disabled inbound transition holds executions in front of the
//! stage; enabling it lets the right ones in for the mode.

use super::harness::*;
use crate::engine::Rejection;
use crate::model::ExecutionMode;

fn through_source(h: &mut Harness, id: &str) {
    h.start(id);
    h.pass(id, "Source", "Checkout");
}

#[test]
fn a_disabled_transition_holds_executions_in_front_of_the_stage() {
    let mut h = Harness::new(three_stages(ExecutionMode::Superseded));
    h.tick(3);
    let effects = h
        .transition("Build", false, Some("  release freeze  "))
        .unwrap();
    assert!(effects.is_empty());
    assert!(h.last.gates_changed);
    let transition = &h.state.gates.transitions["Build"];
    assert!(!transition.enabled);
    assert_eq!(transition.reason.as_deref(), Some("release freeze"));
    assert_eq!(transition.changed_by.as_deref(), Some("release-manager"));
    assert_eq!(transition.changed_at, h.now);
    assert!(!h.state.gates.transition_enabled("Build"));

    h.start("e01");
    let effects = h.pass("e01", "Source", "Checkout");
    assert!(run_actions(&effects).is_empty(), "{effects:?}");
    assert_eq!(h.position("e01"), "Waiting(Build)");
    h.assert_status("e01", "InProgress");
    h.assert_stage("e01", "Source", "Succeeded");
    h.assert_stage("e01", "Build", "-");
    assert_eq!(h.occupant("Source"), None, "Source is free again");
    assert_eq!(h.waiting("Build"), ["e01"]);

    h.tick(60);
    let effects = h.enable("Build");
    assert_eq!(run_actions(&effects), ["e01.2"]);
    assert_eq!(h.position("e01"), "In(Build)");
    let transition = &h.state.gates.transitions["Build"];
    assert!(transition.enabled);
    assert_eq!(transition.reason, None);
    assert_eq!(transition.changed_at, h.now);
}

#[test]
fn enabling_admits_the_newest_waiting_execution_in_superseded_mode() {
    let mut h = Harness::new(three_stages(ExecutionMode::Superseded));
    h.disable("Build");
    through_source(&mut h, "e01");
    through_source(&mut h, "e02");
    h.assert_status("e01", "Superseded");
    through_source(&mut h, "e03");
    h.assert_status("e02", "Superseded");
    let effects = h.enable("Build");
    assert_eq!(run_actions(&effects), ["e03.2"]);
    assert_eq!(h.position("e03"), "In(Build)");
}

#[test]
fn enabling_admits_the_first_waiting_execution_in_queued_mode() {
    let mut h = Harness::new(three_stages(ExecutionMode::Queued));
    h.disable("Build");
    for id in ["e01", "e02", "e03"] {
        through_source(&mut h, id);
    }
    assert_eq!(h.waiting("Build"), ["e01", "e02", "e03"]);
    let effects = h.enable("Build");
    assert_eq!(run_actions(&effects), ["e01.2"]);
    assert_eq!(h.waiting("Build"), ["e02", "e03"]);
    let effects = h.pass("e01", "Build", "Compile");
    assert_eq!(run_actions(&effects), ["e01.3", "e02.2"]);
}

#[test]
fn enabling_admits_every_waiting_execution_in_parallel_mode() {
    let mut h = Harness::new(three_stages(ExecutionMode::Parallel));
    h.disable("Build");
    for id in ["e01", "e02", "e03"] {
        through_source(&mut h, id);
    }
    assert_eq!(h.waiting("Build"), ["e01", "e02", "e03"]);
    let effects = h.enable("Build");
    assert_eq!(run_actions(&effects), ["e01.2", "e02.2", "e03.2"]);
    assert!(h.state.gates.waiting.is_empty());
}

#[test]
fn disabling_needs_a_reason() {
    let mut h = Harness::new(three_stages(ExecutionMode::Superseded));
    for reason in [None, Some(""), Some("   ")] {
        let refused = h.transition("Build", false, reason);
        assert!(
            matches!(refused, Err(Rejection::Invalid(_))),
            "{reason:?}: {refused:?}"
        );
    }
    assert!(h.state.gates.transitions.is_empty());
    // Enabling needs none.
    h.transition("Build", true, None).unwrap();
}

#[test]
fn a_transition_of_an_unknown_stage_is_not_found() {
    let mut h = Harness::new(three_stages(ExecutionMode::Superseded));
    for enabled in [false, true] {
        let refused = h.transition("Nope", enabled, Some("why"));
        assert!(
            matches!(refused, Err(Rejection::NotFound(_))),
            "{refused:?}"
        );
    }
}

#[test]
fn disabling_leaves_the_execution_inside_the_stage_alone() {
    let mut h = Harness::new(three_stages(ExecutionMode::Superseded));
    through_source(&mut h, "e01");
    let effects = h.disable("Build");
    assert!(effects.is_empty());
    h.assert_action("e01", "Build", "Compile", "InProgress");
    h.pass("e01", "Build", "Compile");
    assert_eq!(
        h.position("e01"),
        "In(Deploy)",
        "only the inbound transition is off"
    );
}

#[test]
fn enabling_a_locked_stage_lets_nobody_in_until_it_is_free() {
    let mut h = Harness::new(three_stages(ExecutionMode::Superseded));
    through_source(&mut h, "e01");
    h.disable("Build");
    through_source(&mut h, "e02");
    let effects = h.enable("Build");
    assert!(effects.is_empty(), "{effects:?}");
    assert_eq!(h.position("e02"), "Waiting(Build)");
    let effects = h.pass("e01", "Build", "Compile");
    assert_eq!(run_actions(&effects), ["e01.3", "e02.2"]);
}

#[test]
fn a_disabled_first_stage_holds_new_executions() {
    let mut h = Harness::new(three_stages(ExecutionMode::Queued));
    h.disable("Source");
    assert!(h.start("e01").is_empty());
    assert!(h.start("e02").is_empty());
    assert_eq!(h.position("e01"), "Waiting(Source)");
    assert_eq!(h.waiting("Source"), ["e01", "e02"]);
    assert_eq!(run_actions(&h.enable("Source")), ["e01.1"]);
}

#[test]
fn stopping_with_the_transition_disabled_keeps_the_next_execution_out() {
    // What AWS recommends: disable the inbound transition, then stop the run.
    let mut h = Harness::new(three_stages(ExecutionMode::Superseded));
    through_source(&mut h, "e01");
    through_source(&mut h, "e02");
    h.disable("Build");
    let effects = h.stop("e01", true).unwrap();
    assert!(run_actions(&effects).is_empty(), "{effects:?}");
    h.assert_status("e01", "Stopped");
    assert_eq!(h.occupant("Build"), None);
    assert_eq!(h.position("e02"), "Waiting(Build)");
    assert_eq!(run_actions(&h.enable("Build")), ["e02.2"]);
}

#[test]
fn disabling_twice_keeps_the_latest_reason() {
    let mut h = Harness::new(three_stages(ExecutionMode::Superseded));
    h.transition("Deploy", false, Some("freeze")).unwrap();
    h.tick(5);
    h.transition("Deploy", false, Some("incident 42")).unwrap();
    let transition = &h.state.gates.transitions["Deploy"];
    assert_eq!(transition.reason.as_deref(), Some("incident 42"));
    assert_eq!(transition.changed_at, h.now);
}
