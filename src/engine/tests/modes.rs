//! Execution modes: SUPERSEDED (one execution per stage, the newest waiting one wins),
//! QUEUED (one per stage, first come first served) and PARALLEL (independent).

use super::harness::*;
use crate::model::ExecutionMode;

/// Runs `id` through Source so that it enters (or waits in front of) Build.
fn through_source(h: &mut Harness, id: &str) -> Vec<crate::engine::Effect> {
    h.start(id);
    h.pass(id, "Source", "Checkout")
}

// --- SUPERSEDED ---------------------------------------------------------------------------

#[test]
fn superseded_a_newer_waiting_execution_replaces_the_older_waiting_one() {
    let mut h = Harness::new(three_stages(ExecutionMode::Superseded));
    through_source(&mut h, "e01");
    assert_eq!(h.position("e01"), "In(Build)");
    let effects = through_source(&mut h, "e02");
    assert!(
        run_actions(&effects).is_empty(),
        "Build is locked: {effects:?}"
    );
    assert_eq!(h.position("e02"), "Waiting(Build)");
    assert_eq!(h.waiting("Build"), ["e02"]);
    h.assert_stage("e02", "Build", "-");

    let effects = through_source(&mut h, "e03");
    assert_eq!(finished(&effects), ["e02"]);
    assert!(cancels(&effects).is_empty());
    h.assert_status("e02", "Superseded");
    assert_eq!(h.position("e02"), "Done");
    let summary = h.exec("e02").status_summary.clone().unwrap_or_default();
    assert!(
        summary.contains("e03") && summary.contains("Build"),
        "{summary}"
    );
    assert_eq!(h.waiting("Build"), ["e03"]);
    h.assert_stage("e02", "Source", "Succeeded");

    // The one inside the stage is untouched.
    h.assert_status("e01", "InProgress");
    h.assert_action("e01", "Build", "Compile", "InProgress");
    assert_eq!(h.occupant("Build"), Some("e01"));

    let effects = h.pass("e01", "Build", "Compile");
    assert_eq!(run_actions(&effects), ["e01.3", "e03.2"]);
    assert_eq!(h.position("e03"), "In(Build)");
    assert_eq!(h.occupant("Build"), Some("e03"));
    assert!(h.waiting("Build").is_empty());
}

#[test]
fn superseded_an_execution_inside_a_stage_is_never_superseded() {
    let p = pipeline("gated", ExecutionMode::Superseded)
        .stage("Source", vec![git_source("Checkout")])
        .stage("Release", vec![approval("SignOff")])
        .stage("Deploy", vec![jenkins("Ship", "deploy")]);
    let mut h = Harness::new(p);
    h.start("e01");
    h.pass("e01", "Source", "Checkout");
    for id in ["e02", "e03", "e04"] {
        h.start(id);
        h.pass(id, "Source", "Checkout");
    }
    h.assert_status("e01", "InProgress");
    h.assert_action("e01", "Release", "SignOff", "InProgress");
    h.assert_status("e02", "Superseded");
    h.assert_status("e03", "Superseded");
    assert_eq!(h.waiting("Release"), ["e04"]);
    h.approve("e01", "Release", "SignOff", "alice").unwrap();
    assert_eq!(h.position("e01"), "In(Deploy)");
    assert_eq!(h.position("e04"), "In(Release)");
}

#[test]
fn superseded_applies_in_front_of_the_first_stage_too() {
    let mut h = Harness::new(three_stages(ExecutionMode::Superseded));
    h.start("e01");
    let effects = h.start("e02");
    assert!(effects.is_empty(), "{effects:?}");
    assert_eq!(h.position("e02"), "Waiting(Source)");
    let effects = h.start("e03");
    assert_eq!(finished(&effects), ["e02"]);
    h.assert_status("e02", "Superseded");
    h.assert_stage("e02", "Source", "-");
    assert_eq!(h.waiting("Source"), ["e03"]);
    let effects = h.pass("e01", "Source", "Checkout");
    assert_eq!(run_actions(&effects), ["e01.2", "e03.1"]);
}

#[test]
fn superseded_a_failure_releases_the_lock_and_lets_the_waiting_one_in() {
    let mut h = Harness::new(three_stages(ExecutionMode::Superseded));
    through_source(&mut h, "e01");
    through_source(&mut h, "e02");
    let compile = h.run_id("e01", "Build", "Compile");
    let effects = h.fail(&compile, "compiler crashed");
    assert_eq!(finished(&effects), ["e01"]);
    assert_eq!(run_actions(&effects), ["e02.2"]);
    h.assert_status("e01", "Failed");
    assert_eq!(h.occupant("Build"), Some("e02"));
}

#[test]
fn superseded_a_waiting_execution_is_superseded_by_one_arriving_later_from_the_same_queue() {
    // Three stages deep: e01 blocks Deploy; e02 and e03 pile up behind it one by one.
    let mut h = Harness::new(three_stages(ExecutionMode::Superseded));
    through_source(&mut h, "e01");
    h.pass("e01", "Build", "Compile");
    assert_eq!(h.position("e01"), "In(Deploy)");
    through_source(&mut h, "e02");
    h.pass("e02", "Build", "Compile");
    assert_eq!(h.position("e02"), "Waiting(Deploy)");
    through_source(&mut h, "e03");
    assert_eq!(h.position("e03"), "In(Build)", "e02 left Build free");
    let effects = h.pass("e03", "Build", "Compile");
    assert_eq!(finished(&effects), ["e02"]);
    assert_eq!(h.waiting("Deploy"), ["e03"]);
    h.pass("e01", "Deploy", "Ship");
    h.pass("e03", "Deploy", "Ship");
    h.assert_status("e01", "Succeeded");
    h.assert_status("e02", "Superseded");
    h.assert_status("e03", "Succeeded");
}

// --- QUEUED -------------------------------------------------------------------------------

#[test]
fn queued_executions_pass_each_stage_one_at_a_time_in_start_order() {
    let mut h = Harness::new(three_stages(ExecutionMode::Queued));
    for id in ["e01", "e02", "e03"] {
        h.start(id);
    }
    assert_eq!(h.waiting("Source"), ["e02", "e03"]);
    // Always finish the newest running action first, to tempt later executions ahead.
    let mut entered: Vec<(String, String)> = Vec::new();
    let mut seen = 0;
    for _ in 0..20 {
        for effect in &h.effects[seen..] {
            if let crate::engine::Effect::RunAction { execution, run_id } = effect {
                let (s, _) = h.exec(execution).find_run(run_id).unwrap();
                entered.push((h.exec(execution).stages[s].name.clone(), execution.clone()));
            }
        }
        seen = h.effects.len();
        let Some((_, _, _, run_id)) = h.live_runs().into_iter().next_back() else {
            break;
        };
        h.tick(1);
        h.succeed(&run_id);
    }
    for stage in ["Source", "Build", "Deploy"] {
        let order: Vec<&str> = entered
            .iter()
            .filter(|(s, _)| s == stage)
            .map(|(_, e)| e.as_str())
            .collect();
        assert_eq!(order, ["e01", "e02", "e03"], "order through {stage}");
    }
    for id in ["e01", "e02", "e03"] {
        h.assert_status(id, "Succeeded");
    }
}

#[test]
fn queued_nobody_is_superseded_while_waiting() {
    let mut h = Harness::new(three_stages(ExecutionMode::Queued));
    through_source(&mut h, "e01");
    through_source(&mut h, "e02");
    through_source(&mut h, "e03");
    assert_eq!(h.waiting("Build"), ["e02", "e03"]);
    for id in ["e02", "e03"] {
        h.assert_status(id, "InProgress");
    }
    assert!(finished(&h.effects).is_empty());
}

#[test]
fn queued_a_failure_lets_the_first_in_line_enter() {
    let mut h = Harness::new(three_stages(ExecutionMode::Queued));
    through_source(&mut h, "e01");
    through_source(&mut h, "e02");
    through_source(&mut h, "e03");
    let compile = h.run_id("e01", "Build", "Compile");
    let effects = h.fail(&compile, "red");
    assert_eq!(run_actions(&effects), ["e02.2"]);
    assert_eq!(h.occupant("Build"), Some("e02"));
    assert_eq!(h.waiting("Build"), ["e03"]);
}

#[test]
fn queued_a_waiting_execution_stopped_leaves_the_queue() {
    let mut h = Harness::new(three_stages(ExecutionMode::Queued));
    for id in ["e01", "e02", "e03"] {
        h.start(id);
    }
    let effects = h.stop("e02", false).unwrap();
    assert_eq!(finished(&effects), ["e02"]);
    h.assert_status("e02", "Stopped");
    assert_eq!(h.waiting("Source"), ["e03"]);
    let effects = h.pass("e01", "Source", "Checkout");
    assert_eq!(run_actions(&effects), ["e01.2", "e03.1"]);
}

// --- PARALLEL -----------------------------------------------------------------------------

#[test]
fn parallel_executions_run_the_same_stage_at_the_same_time() {
    let mut h = Harness::new(three_stages(ExecutionMode::Parallel));
    assert_eq!(run_actions(&h.start("e01")), ["e01.1"]);
    assert_eq!(run_actions(&h.start("e02")), ["e02.1"]);
    assert_eq!(run_actions(&h.pass("e02", "Source", "Checkout")), ["e02.2"]);
    assert_eq!(run_actions(&h.pass("e01", "Source", "Checkout")), ["e01.2"]);
    h.assert_action("e01", "Build", "Compile", "InProgress");
    h.assert_action("e02", "Build", "Compile", "InProgress");
    assert!(h.state.gates.occupant.is_empty(), "PARALLEL locks nothing");
    assert!(h.state.gates.waiting.is_empty());
    assert_eq!(
        h.state.gates.last_entered.get("Build").map(String::as_str),
        Some("e01")
    );
}

#[test]
fn parallel_executions_finish_independently() {
    let mut h = Harness::new(three_stages(ExecutionMode::Parallel));
    through_source(&mut h, "e01");
    through_source(&mut h, "e02");
    let compile = h.run_id("e01", "Build", "Compile");
    let effects = h.fail(&compile, "red");
    assert_eq!(effects.len(), 1, "{effects:?}");
    h.assert_status("e01", "Failed");
    h.assert_action("e02", "Build", "Compile", "InProgress");
    h.pass("e02", "Build", "Compile");
    h.pass("e02", "Deploy", "Ship");
    h.assert_status("e02", "Succeeded");
    // A newer execution never supersedes an older one either.
    through_source(&mut h, "e03");
    through_source(&mut h, "e04");
    h.assert_status("e03", "InProgress");
    h.assert_status("e04", "InProgress");
}
