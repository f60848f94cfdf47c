//! `check(input, expected)` tests of every text the CLI renders for people.

use chrono::{FixedOffset, TimeDelta};

use super::*;
use crate::api::dto::{ApprovalDto, PipelineSummary};
use crate::cli::fixtures::{at, failed, summary, ID};

fn utc() -> FixedOffset {
    FixedOffset::east_opt(0).unwrap_or_else(|| unreachable!())
}

fn check(got: String, expected: &str) {
    assert_eq!(
        got, expected,
        "\n--- got ---\n{got}\n--- expected ---\n{expected}"
    );
}

#[test]
fn elapsed_formatting() {
    for (secs, expected) in [
        (-5, "0s"),
        (0, "0s"),
        (42, "42s"),
        (59, "59s"),
        (60, "1m00s"),
        (62, "1m02s"),
        (3599, "59m59s"),
        (3600, "1h00m"),
        (2 * 3600 + 7 * 60 + 59, "2h07m"),
        (86400 + 4 * 3600, "1d04h"),
    ] {
        assert_eq!(elapsed(TimeDelta::seconds(secs)), expected, "{secs}");
    }
    assert_eq!(span(Some(at(0)), None, at(75)), Some("1m15s".into()));
    assert_eq!(span(Some(at(0)), Some(at(5)), at(75)), Some("5s".into()));
    assert_eq!(span(None, None, at(75)), None);
}

#[test]
fn clock_uses_the_local_offset() {
    let paris = FixedOffset::east_opt(2 * 3600).unwrap_or_else(|| unreachable!());
    assert_eq!(clock(at(61), &paris), "14:01:01");
    assert_eq!(timestamp(at(61), &utc()), "2024-05-01 12:01:01");
}

#[test]
fn table_layout() {
    let rows = vec![
        vec!["web".to_string(), "3".to_string(), "x".to_string()],
        vec![
            "a-much-longer-name".to_string(),
            "12".to_string(),
            String::new(),
        ],
    ];
    check(
        table(&["NAME", "VERSION", "NOTE"], &rows),
        "NAME                VERSION  NOTE\n\
         web                 3        x\n\
         a-much-longer-name  12\n",
    );
}

#[test]
fn pipeline_table() {
    let web = PipelineSummary {
        name: "web".into(),
        version: 3,
        execution_mode: "SUPERSEDED".into(),
        stages: vec!["Source".into(), "Build".into(), "Deploy".into()],
        updated_at: at(0),
        latest_execution: Some(summary("Succeeded", 0, Some(42))),
    };
    let api = PipelineSummary {
        name: "api.internal@eu".into(),
        version: 12,
        execution_mode: "QUEUED".into(),
        stages: vec!["Build".into()],
        updated_at: at(0),
        latest_execution: None,
    };
    check(
        pipelines(&[web, api]),
        "NAME             VERSION  MODE        STAGES  LATEST\n\
         web              3        SUPERSEDED  3       Succeeded\n\
         api.internal@eu  12       QUEUED      1       -\n",
    );
    check(pipelines(&[]), "no pipelines\n");
}

#[test]
fn execution_table() {
    let mut running = summary("InProgress", 100, None);
    running.id = "0190f2c4-0000-7000-8000-000000000002".into();
    running.revision = None;
    let done = summary("Succeeded", 0, Some(42));
    check(
        executions(&[running, done], at(190), &utc()),
        "ID                                    STATUS      STARTED              DURATION  VERSION  TRIGGER                 REVISION\n\
         0190f2c4-0000-7000-8000-000000000002  InProgress  2024-05-01 12:01:40  1m30s     3        StartPipelineExecution  -\n\
         0190f2c4-7a1b-7c3d-8e9f-0a1b2c3d4e5f  Succeeded   2024-05-01 12:00:00  42s       3        StartPipelineExecution  abc123\n",
    );
}

#[test]
fn apply_line() {
    let mut result = ApplyResult {
        name: "web".into(),
        version: 4,
        changed: true,
        notes: Vec::new(),
    };
    check(applied(&result), "pipeline web: version 4");
    result.changed = false;
    check(applied(&result), "pipeline web: version 4 (unchanged)");
}

#[test]
fn outcome_line() {
    let d = failed();
    check(
        outcome(&d, at(500)),
        &format!("execution {ID} Failed in 1m02s: Build/compile failed"),
    );
    let mut ok = d;
    ok.summary.status = "Succeeded".into();
    ok.summary.status_summary = None;
    ok.summary.finished_at = Some(at(42));
    check(
        outcome(&ok, at(500)),
        &format!("execution {ID} Succeeded in 42s"),
    );
}

#[test]
fn execution_view() {
    let mut d = failed();
    d.variables.insert("ENV".into(), "prod".into());
    let approval = ApprovalDto {
        by: "alice".into(),
        approved: true,
        comment: Some("ship it".into()),
        at: at(2),
    };
    d.stages[0].actions[0].approvals.push(approval);
    check(
        execution(&d, at(500), &utc()),
        "execution 0190f2c4-7a1b-7c3d-8e9f-0a1b2c3d4e5f  web v3  Failed  1m02s\n\
         \x20 summary: Build/compile failed\n\
         \x20 trigger: StartPipelineExecution by admin\n\
         \x20 revision: abc123\n\
         \x20 started: 2024-05-01 12:00:00  finished: 2024-05-01 12:01:02\n\
         \x20 variables: ENV=prod\n\
         \n\
         Source      Succeeded  3s\n\
         \x20 checkout  Succeeded  3s\n\
         \x20     approved by alice at 2024-05-01 12:00:02: ship it\n\
         Build       Failed     59s\n\
         \x20 compile   Failed     58s  #12  https://jenkins.example.com/job/web/12/\n\
         \x20     error: Jenkins build #12 finished FAILURE\n\
         \x20     outputs: VERSION=1.2.3\n\
         Deploy      -\n",
    );
}

#[test]
fn waiting_stage_and_attempts() {
    let mut d = failed();
    d.summary.status = "InProgress".into();
    d.waiting = true;
    d.current_stage = Some("Deploy".into());
    d.stages[1].attempt = 2;
    let deploy = stage_cells(&d.stages[2], &d, at(500));
    assert_eq!(deploy, ["Deploy", "waiting"]);
    let build = stage_cells(&d.stages[1], &d, at(500));
    assert_eq!(build, ["Build", "Failed", "59s", "attempt 2"]);
    let view = execution(&d, at(500), &utc());
    assert!(view.contains("  waiting to enter Deploy\n"), "{view}");
}
