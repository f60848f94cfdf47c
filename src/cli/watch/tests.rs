//! Plain progress lines: what changed between two details, in the order it happened.

use chrono::FixedOffset;

use super::*;
use crate::cli::fixtures::{at, building, failed, ID};

fn check(before: Option<&ExecutionDetail>, after: &ExecutionDetail, expected: &str) {
    let utc = FixedOffset::east_opt(0).unwrap_or_else(|| unreachable!());
    let got = changes(before, after, &utc).join("\n");
    assert_eq!(
        got, expected,
        "\n--- got ---\n{got}\n--- expected ---\n{expected}"
    );
}

#[test]
fn first_sight_replays_what_happened_in_order() {
    check(
        None,
        &building(),
        &format!(
            "12:00:00 execution {ID} InProgress (pipeline web v3)\n\
             12:00:03 Source/checkout Succeeded 3s\n\
             12:00:03 Source Succeeded 3s\n\
             12:00:03 Build InProgress\n\
             12:00:04 Build/compile InProgress #12 https://jenkins.example.com/job/web/12/"
        ),
    );
}

#[test]
fn failure_reports_the_action_then_the_stage() {
    let before = building();
    check(
        Some(&before),
        &failed(),
        "12:01:02 Build/compile Failed 58s #12 https://jenkins.example.com/job/web/12/: \
         Jenkins build #12 finished FAILURE\n\
         12:01:02 Build Failed 59s",
    );
}

#[test]
fn nothing_changed_prints_nothing() {
    let d = building();
    check(Some(&d), &d, "");
    // Progress and timestamps alone are not changes worth a line.
    let mut later = d.clone();
    later.updated_at = at(30);
    later.stages[1].actions[0].percent_complete = Some(80);
    check(Some(&d), &later, "");
}

#[test]
fn link_arriving_after_the_start_gets_a_line() {
    let mut before = building();
    before.stages[1].actions[0].external_execution_url = None;
    before.stages[1].actions[0].build_number = None;
    check(
        Some(&before),
        &building(),
        "12:00:04 Build/compile InProgress #12 https://jenkins.example.com/job/web/12/",
    );
}

#[test]
fn waiting_at_a_gate() {
    let before = building();
    let mut after = building();
    let build = &mut after.stages[1];
    build.status = Some("Succeeded".into());
    build.finished_at = Some(at(10));
    let compile = &mut build.actions[0];
    compile.status = Some("Succeeded".into());
    compile.finished_at = Some(at(10));
    after.current_stage = Some("Deploy".into());
    after.waiting = true;
    after.updated_at = at(11);
    check(
        Some(&before),
        &after,
        "12:00:10 Build/compile Succeeded 6s #12 https://jenkins.example.com/job/web/12/\n\
         12:00:10 Build Succeeded 7s\n\
         12:00:11 Deploy waiting",
    );
    // Still waiting: no new line.
    check(Some(&after), &after, "");
}

#[test]
fn retry_is_a_new_attempt() {
    let before = failed();
    let mut after = failed();
    after.summary.status = "InProgress".into();
    after.updated_at = at(70);
    let build = &mut after.stages[1];
    build.status = Some("InProgress".into());
    build.attempt = 2;
    build.started_at = Some(at(70));
    build.finished_at = None;
    let compile = &mut build.actions[0];
    compile.status = Some("InProgress".into());
    compile.attempt = 2;
    compile.started_at = Some(at(70));
    compile.finished_at = None;
    compile.error = None;
    compile.build_number = Some("13".into());
    compile.external_execution_url = None;
    check(
        Some(&before),
        &after,
        "12:01:10 execution InProgress\n\
         12:01:10 Build InProgress (attempt 2)\n\
         12:01:10 Build/compile InProgress (attempt 2) #13",
    );
}

#[test]
fn exit_codes() {
    assert_eq!(exit_code(&failed()), 1);
    let mut ok = failed();
    ok.summary.status = "Succeeded".into();
    assert_eq!(exit_code(&ok), 0);
    ok.summary.status = "Superseded".into();
    assert_eq!(exit_code(&ok), 1);
}
