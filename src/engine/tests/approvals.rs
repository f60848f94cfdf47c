//! Manual approvals: approve, reject, MinimumApprovals, and who may decide when.

use super::harness::*;
use crate::engine::Rejection;
use crate::model::{Action, ExecutionMode, Pipeline};

/// Source → Release [the given approval] → Deploy, with variable Ticket (default T-1).
fn gated(sign_off: Action) -> Pipeline {
    pipeline("gated", ExecutionMode::Superseded)
        .variable("Ticket", Some("T-1"))
        .stage("Source", vec![git_source("Checkout")])
        .stage("Release", vec![sign_off])
        .stage("Deploy", vec![jenkins("Ship", "deploy")])
}

fn waiting_for_sign_off(sign_off: Action) -> Harness {
    let mut h = Harness::new(gated(sign_off));
    h.start("e01");
    h.pass("e01", "Source", "Checkout");
    h.assert_action("e01", "Release", "SignOff", "InProgress");
    h
}

#[test]
fn approving_succeeds_and_names_the_approver_and_the_comment() {
    let mut h = waiting_for_sign_off(approval("SignOff"));
    h.tick(15);
    let effects = h
        .vote(
            "e01",
            "Release",
            "SignOff",
            true,
            "alice",
            Some("looks good"),
        )
        .unwrap();
    assert_eq!(run_actions(&effects), ["e01.3"], "Deploy starts");
    h.assert_action("e01", "Release", "SignOff", "Succeeded");
    let run = h.action("e01", "Release", "SignOff");
    assert_eq!(
        run.summary.as_deref(),
        Some("approved by alice: looks good")
    );
    assert_eq!(run.finished_at, Some(h.now));
    assert_eq!(run.approvals.len(), 1);
    let vote = &run.approvals[0];
    assert_eq!(vote.by, "alice");
    assert!(vote.approved);
    assert_eq!(vote.comment.as_deref(), Some("looks good"));
    assert_eq!(vote.at, h.now);
    h.assert_stage("e01", "Release", "Succeeded");
}

#[test]
fn rejecting_fails_the_approval_with_who_and_why() {
    let mut h = waiting_for_sign_off(approval("SignOff"));
    let effects = h
        .reject("e01", "Release", "SignOff", "bob", "broken on staging")
        .unwrap();
    assert_eq!(finished(&effects), ["e01"]);
    h.assert_action("e01", "Release", "SignOff", "Failed");
    assert_eq!(
        h.action("e01", "Release", "SignOff").error.as_deref(),
        Some("rejected by bob: broken on staging")
    );
    h.assert_status("e01", "Failed");
    assert_eq!(
        h.exec("e01").status_summary.as_deref(),
        Some("Release/SignOff: rejected by bob: broken on staging")
    );
}

#[test]
fn a_rejection_without_a_comment_names_who_rejected() {
    let mut h = waiting_for_sign_off(approval("SignOff"));
    h.vote("e01", "Release", "SignOff", false, "bob", None)
        .unwrap();
    assert_eq!(
        h.action("e01", "Release", "SignOff").error.as_deref(),
        Some("rejected by bob")
    );
}

#[test]
fn minimum_approvals_needs_that_many_distinct_people() {
    let mut h = waiting_for_sign_off(approval("SignOff").config("MinimumApprovals", "2"));
    let effects = h.approve("e01", "Release", "SignOff", "alice").unwrap();
    assert!(effects.is_empty());
    h.assert_action("e01", "Release", "SignOff", "InProgress");
    assert_eq!(
        h.action("e01", "Release", "SignOff").summary.as_deref(),
        Some("1 of 2 approvals")
    );
    let refused = h.approve("e01", "Release", "SignOff", "alice");
    assert!(
        matches!(refused, Err(Rejection::Conflict(_))),
        "{refused:?}"
    );
    let effects = h.approve("e01", "Release", "SignOff", "bob").unwrap();
    assert_eq!(run_actions(&effects), ["e01.3"]);
    h.assert_action("e01", "Release", "SignOff", "Succeeded");
    let summary = h
        .action("e01", "Release", "SignOff")
        .summary
        .clone()
        .unwrap();
    assert!(
        summary.contains("alice") && summary.contains("bob"),
        "{summary}"
    );
}

#[test]
fn any_rejection_rejects() {
    let mut h = waiting_for_sign_off(approval("SignOff").config("MinimumApprovals", "2"));
    h.approve("e01", "Release", "SignOff", "alice").unwrap();
    h.reject("e01", "Release", "SignOff", "bob", "no").unwrap();
    h.assert_action("e01", "Release", "SignOff", "Failed");
    h.assert_status("e01", "Failed");
}

#[test]
fn approving_an_action_that_is_not_an_approval_is_invalid() {
    let mut h = waiting_for_sign_off(approval("SignOff"));
    for (stage, action) in [("Source", "Checkout"), ("Deploy", "Ship")] {
        let refused = h.approve("e01", stage, action, "alice");
        assert!(matches!(refused, Err(Rejection::Invalid(_))), "{refused:?}");
    }
}

#[test]
fn deciding_when_the_approval_is_not_waiting_is_a_conflict() {
    let mut h = Harness::new(gated(approval("SignOff")));
    h.start("e01");
    // Not reached yet.
    let refused = h.approve("e01", "Release", "SignOff", "alice");
    assert!(
        matches!(refused, Err(Rejection::Conflict(_))),
        "{refused:?}"
    );
    h.pass("e01", "Source", "Checkout");
    h.approve("e01", "Release", "SignOff", "alice").unwrap();
    // Already decided.
    let refused = h.reject("e01", "Release", "SignOff", "bob", "too late");
    assert!(
        matches!(refused, Err(Rejection::Conflict(_))),
        "{refused:?}"
    );
    // The execution is over.
    h.pass("e01", "Deploy", "Ship");
    let refused = h.approve("e01", "Release", "SignOff", "carol");
    assert!(
        matches!(refused, Err(Rejection::Conflict(_))),
        "{refused:?}"
    );
}

#[test]
fn deciding_on_an_abandoned_approval_is_a_conflict() {
    let mut h = waiting_for_sign_off(approval("SignOff"));
    h.stop("e01", true).unwrap();
    let refused = h.approve("e01", "Release", "SignOff", "alice");
    assert!(
        matches!(refused, Err(Rejection::Conflict(_))),
        "{refused:?}"
    );
}

#[test]
fn unknown_executions_stages_and_actions_are_not_found() {
    let mut h = waiting_for_sign_off(approval("SignOff"));
    for (execution, stage, action) in [
        ("e99", "Release", "SignOff"),
        ("e01", "Nope", "SignOff"),
        ("e01", "Release", "Nope"),
    ] {
        let refused = h.approve(execution, stage, action, "alice");
        assert!(
            matches!(refused, Err(Rejection::NotFound(_))),
            "{refused:?}"
        );
    }
}

#[test]
fn the_approval_shows_its_custom_data_and_review_link_with_variables_resolved() {
    let h = waiting_for_sign_off(
        approval("SignOff")
            .config("CustomData", "Release #{codepipeline.PipelineExecutionId}?")
            .config(
                "ExternalEntityLink",
                "https://review.example.com/#{variables.Ticket}",
            ),
    );
    let run = h.action("e01", "Release", "SignOff");
    assert_eq!(run.summary.as_deref(), Some("Release e01?"));
    assert_eq!(
        run.external_url.as_deref(),
        Some("https://review.example.com/T-1")
    );
}

#[test]
fn an_invalid_minimum_approvals_fails_the_approval_when_it_starts() {
    for bad in ["0", "two", "-1"] {
        let mut h = Harness::new(gated(approval("SignOff").config("MinimumApprovals", bad)));
        h.start("e01");
        let effects = h.pass("e01", "Source", "Checkout");
        assert!(timers(&effects).is_empty(), "{bad}: {effects:?}");
        h.assert_action("e01", "Release", "SignOff", "Failed");
        let error = h.action("e01", "Release", "SignOff").error.clone().unwrap();
        assert!(error.contains("MinimumApprovals"), "{error}");
        h.assert_status("e01", "Failed");
    }
}

#[test]
fn a_rejected_approval_can_be_retried_and_needs_a_fresh_decision() {
    let mut h = waiting_for_sign_off(approval("SignOff"));
    h.reject("e01", "Release", "SignOff", "bob", "not yet")
        .unwrap();
    h.retry("e01", "Release", false).unwrap();
    let run = h.action("e01", "Release", "SignOff");
    assert!(run.approvals.is_empty());
    assert_eq!(run.error, None);
    assert_eq!(run.attempt, 2);
    h.approve("e01", "Release", "SignOff", "bob").unwrap();
    h.assert_action("e01", "Release", "SignOff", "Succeeded");
}

#[test]
fn an_approval_decided_while_stopping_ends_the_execution_stopped() {
    let mut h = waiting_for_sign_off(approval("SignOff"));
    h.stop("e01", false).unwrap();
    let effects = h.approve("e01", "Release", "SignOff", "alice").unwrap();
    assert!(run_actions(&effects).is_empty(), "nothing new starts");
    h.assert_action("e01", "Release", "SignOff", "Succeeded");
    h.assert_stage("e01", "Release", "Stopped");
    h.assert_status("e01", "Stopped");
}
