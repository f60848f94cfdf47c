//! The runtime's Prometheus metrics, recorded through the `metrics` facade; the API
//! renders them at `/metrics`.

use std::time::Duration;

use crate::engine::state::{Execution, Time};

pub const EXECUTIONS_FINISHED: &str = "baton_executions_finished_total";
pub const ACTION_DURATION: &str = "baton_action_duration_seconds";
pub const STORE_COMMIT: &str = "baton_store_commit_seconds";
pub const STORE_COMMIT_STEPS: &str = "baton_store_commit_steps";
pub const QUEUE_WAIT: &str = "baton_stage_queue_wait_seconds";

/// Registers descriptions, so `/metrics` explains each series.
pub fn describe_metrics() {
    metrics::describe_counter!(
        EXECUTIONS_FINISHED,
        "Executions that reached a terminal status, by status"
    );
    metrics::describe_histogram!(
        ACTION_DURATION,
        metrics::Unit::Seconds,
        "Time from trigger to result of CI actions, by stage"
    );
    metrics::describe_histogram!(
        STORE_COMMIT,
        metrics::Unit::Seconds,
        "Time to durably store one group of engine steps"
    );
    metrics::describe_histogram!(
        STORE_COMMIT_STEPS,
        "Engine steps stored together in one commit"
    );
    metrics::describe_histogram!(
        QUEUE_WAIT,
        metrics::Unit::Seconds,
        "Time executions waited in front of a stage"
    );
}

pub(super) fn store_commit(elapsed: Duration, steps: usize) {
    metrics::histogram!(STORE_COMMIT).record(elapsed.as_secs_f64());
    metrics::histogram!(STORE_COMMIT_STEPS).record(steps as f64);
}

pub(super) fn execution_finished(execution: &Execution) {
    metrics::counter!(EXECUTIONS_FINISHED, "pipeline" => execution.pipeline.clone(), "status" => execution.status.as_str())
        .increment(1);
}

pub(super) fn action_finished(stage: &str, elapsed: Duration) {
    metrics::histogram!(ACTION_DURATION, "stage" => stage.to_string())
        .record(elapsed.as_secs_f64());
}

/// Records how long an execution waited in front of each stage it entered at `now`.
pub(super) fn stages_entered(execution: &Execution, now: Time) {
    for (index, stage) in execution.stages.iter().enumerate() {
        if stage.started_at != Some(now) || stage.attempt != 1 {
            continue;
        }
        let arrived = match index {
            0 => Some(execution.started_at),
            _ => execution.stages[index - 1].finished_at,
        };
        if let Some(waited) = arrived.and_then(|at| (now - at).to_std().ok()) {
            metrics::histogram!(QUEUE_WAIT, "stage" => stage.name.clone())
                .record(waited.as_secs_f64());
        }
    }
}
