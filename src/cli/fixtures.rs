//! Test data for the rendering tests: API answers built tersely, times as offsets in
//! seconds from a fixed instant (12:00:00 UTC).

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};

use crate::api::dto::{ActionDto, ExecutionDetail, ExecutionSummary, StageDto, TriggerDto};

pub const ID: &str = "0190f2c4-7a1b-7c3d-8e9f-0a1b2c3d4e5f";

/// 2024-05-01 12:00:00 UTC plus `secs`.
pub fn at(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0)
        .single()
        .map(|t| t + chrono::TimeDelta::seconds(secs))
        .unwrap_or_default()
}

pub fn summary(status: &str, started: i64, finished: Option<i64>) -> ExecutionSummary {
    ExecutionSummary {
        id: ID.into(),
        pipeline: "web".into(),
        pipeline_version: 3,
        status: status.into(),
        status_summary: None,
        trigger: TriggerDto {
            trigger_type: "StartPipelineExecution".into(),
            trigger_detail: None,
            triggered_by: Some("admin".into()),
        },
        revision: Some("abc123".into()),
        started_at: at(started),
        finished_at: finished.map(at),
    }
}

pub fn stage(name: &str, status: Option<&str>, times: (Option<i64>, Option<i64>)) -> StageDto {
    StageDto {
        name: name.into(),
        status: status.map(str::to_string),
        attempt: u32::from(status.is_some()),
        started_at: times.0.map(at),
        finished_at: times.1.map(at),
        actions: Vec::new(),
    }
}

pub fn action(name: &str, status: Option<&str>, times: (Option<i64>, Option<i64>)) -> ActionDto {
    ActionDto {
        name: name.into(),
        run_order: 1,
        status: status.map(str::to_string),
        run_id: None,
        attempt: u32::from(status.is_some()),
        started_at: times.0.map(at),
        finished_at: times.1.map(at),
        deadline: None,
        external_execution_id: None,
        external_execution_url: None,
        build_number: None,
        summary: None,
        error: None,
        percent_complete: None,
        output_variables: BTreeMap::new(),
        resolved_configuration: serde_json::Value::Null,
        approvals: Vec::new(),
    }
}

pub fn detail(summary: ExecutionSummary, updated: i64, stages: Vec<StageDto>) -> ExecutionDetail {
    ExecutionDetail {
        summary,
        updated_at: at(updated),
        variables: BTreeMap::new(),
        current_stage: None,
        waiting: false,
        stop_reason: None,
        stages,
    }
}

/// A three-stage execution: Source done, Build running `compile` on Jenkins, Deploy ahead.
pub fn building() -> ExecutionDetail {
    let mut source = stage("Source", Some("Succeeded"), (Some(0), Some(3)));
    source.actions = vec![action("checkout", Some("Succeeded"), (Some(0), Some(3)))];
    let mut build = stage("Build", Some("InProgress"), (Some(3), None));
    let mut compile = action("compile", Some("InProgress"), (Some(4), None));
    compile.build_number = Some("12".into());
    compile.external_execution_url = Some("https://jenkins.example.com/job/web/12/".into());
    compile.percent_complete = Some(40);
    build.actions = vec![compile, action("lint", None, (None, None))];
    let mut deploy = stage("Deploy", None, (None, None));
    deploy.actions = vec![action("release", None, (None, None))];
    let mut d = detail(
        summary("InProgress", 0, None),
        5,
        vec![source, build, deploy],
    );
    d.current_stage = Some("Build".into());
    d
}

/// [`building`] after `compile` failed at 62 s, which failed Build and the execution.
pub fn failed() -> ExecutionDetail {
    let mut d = building();
    d.summary.status = "Failed".into();
    d.summary.status_summary = Some("Build/compile failed".into());
    d.summary.finished_at = Some(at(62));
    d.updated_at = at(62);
    let build = &mut d.stages[1];
    build.status = Some("Failed".into());
    build.finished_at = Some(at(62));
    let compile = &mut build.actions[0];
    compile.status = Some("Failed".into());
    compile.finished_at = Some(at(62));
    compile.error = Some("Jenkins build #12 finished FAILURE".into());
    compile.output_variables = BTreeMap::from([("VERSION".to_string(), "1.2.3".to_string())]);
    d
}
