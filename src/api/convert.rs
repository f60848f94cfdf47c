//! Engine state and stored rows rendered as API bodies.

use super::dto::*;
use crate::engine::state::{ActionRun, Execution, Gates, Position, StageRun};
use crate::store::StoredPipeline;

pub fn summary(execution: &Execution) -> ExecutionSummary {
    ExecutionSummary {
        id: execution.id.clone(),
        pipeline: execution.pipeline.clone(),
        pipeline_version: execution.version,
        status: execution.status.as_str().to_string(),
        status_summary: execution.status_summary.clone(),
        trigger: TriggerDto {
            trigger_type: execution.trigger.kind.clone(),
            trigger_detail: execution.trigger.detail.clone(),
            triggered_by: execution.trigger.by.clone(),
        },
        revision: execution.revision.clone(),
        started_at: execution.started_at,
        finished_at: execution.finished_at,
    }
}

pub fn detail(execution: &Execution) -> ExecutionDetail {
    let (current_stage, waiting) = match execution.position {
        Position::Waiting(s) => (execution.stages.get(s).map(|st| st.name.clone()), true),
        Position::InStage(s) => (execution.stages.get(s).map(|st| st.name.clone()), false),
        Position::Done => (None, false),
    };
    ExecutionDetail {
        summary: summary(execution),
        updated_at: execution.updated_at,
        variables: execution.variables.clone(),
        current_stage,
        waiting,
        stop_reason: execution.stop.as_ref().and_then(|s| s.reason.clone()),
        stages: execution.stages.iter().map(stage).collect(),
    }
}

fn stage(run: &StageRun) -> StageDto {
    StageDto {
        name: run.name.clone(),
        status: run.status.map(|s| format!("{s:?}")),
        attempt: run.attempt,
        started_at: run.started_at,
        finished_at: run.finished_at,
        actions: run.actions.iter().map(action).collect(),
    }
}

fn action(run: &ActionRun) -> ActionDto {
    ActionDto {
        name: run.name.clone(),
        run_order: run.run_order,
        status: run.status.map(|s| format!("{s:?}")),
        run_id: run.run_id.clone(),
        attempt: run.attempt,
        started_at: run.started_at,
        finished_at: run.finished_at,
        deadline: run.deadline,
        external_execution_id: run.external_id.clone(),
        external_execution_url: run.external_url.clone(),
        build_number: run.outputs.get("BuildNumber").cloned(),
        summary: run.summary.clone(),
        error: run.error.clone(),
        percent_complete: run.percent_complete,
        output_variables: run.outputs.clone(),
        resolved_configuration: serde_json::to_value(&run.resolved_configuration)
            .unwrap_or(serde_json::Value::Null),
        approvals: run
            .approvals
            .iter()
            .map(|v| ApprovalDto {
                by: v.by.clone(),
                approved: v.approved,
                comment: v.comment.clone(),
                at: v.at,
            })
            .collect(),
    }
}

pub fn pipeline_summary(stored: &StoredPipeline, latest: Option<&Execution>) -> PipelineSummary {
    let definition = &stored.definition;
    PipelineSummary {
        name: stored.name.clone(),
        version: stored.version,
        execution_mode: serde_json::to_value(definition.execution_mode)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        stages: definition.stages.iter().map(|s| s.name.clone()).collect(),
        updated_at: stored.updated_at,
        latest_execution: latest.map(summary),
    }
}

pub fn pipeline_detail(stored: &StoredPipeline, gates: &Gates) -> PipelineDetail {
    PipelineDetail {
        name: stored.name.clone(),
        version: stored.version,
        created_at: stored.created_at,
        updated_at: stored.updated_at,
        pipeline: serde_json::to_value(&stored.definition).unwrap_or(serde_json::Value::Null),
        transitions: gates
            .transitions
            .iter()
            .map(|(stage, t)| TransitionState {
                stage: stage.clone(),
                enabled: t.enabled,
                reason: t.reason.clone(),
                changed_by: t.changed_by.clone(),
                changed_at: t.changed_at,
            })
            .collect(),
    }
}
