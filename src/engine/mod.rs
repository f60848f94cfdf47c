//! The execution state machine: (definitions, state, event, now) → (state', effects).
//!
//! Pure and deterministic: the same events applied to the same state give the same state
//! and effects, and time is an input. The runtime persists each event with the state it
//! produced before it carries out any effect. Imports `model` only: never tokio, sqlx or
//! reqwest.

mod actions;
mod commands;
mod flow;
mod gates;
pub mod state;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::model::Pipeline;
use state::{ExecutionId, PipelineState, RunId, Time, Trigger};

/// Something that happened to a pipeline: a command from a person or a tool, or news
/// from an action's executor. This is what the store's event log holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Event {
    /// Start an execution of the given definition version.
    Start {
        execution: ExecutionId,
        version: u32,
        trigger: Trigger,
        variables: BTreeMap<String, String>,
        revision: Option<String>,
    },
    /// The executor started external work for a run (or found it again after a crash).
    ActionStarted {
        execution: ExecutionId,
        run_id: RunId,
        external_id: String,
        external_url: Option<String>,
    },
    /// The executor reported progress: a better id or URL, percent, a summary.
    ActionProgress {
        execution: ExecutionId,
        run_id: RunId,
        external_id: Option<String>,
        external_url: Option<String>,
        percent_complete: Option<u8>,
        summary: Option<String>,
    },
    /// The external work finished.
    ActionCompleted {
        execution: ExecutionId,
        run_id: RunId,
        outcome: ActionOutcome,
    },
    /// A timer set for a run fired.
    Timeout {
        execution: ExecutionId,
        run_id: RunId,
    },
    Approval {
        execution: ExecutionId,
        stage: String,
        action: String,
        approved: bool,
        by: String,
        comment: Option<String>,
    },
    Stop {
        execution: ExecutionId,
        abandon: bool,
        reason: Option<String>,
        by: Option<String>,
    },
    Retry {
        execution: ExecutionId,
        stage: String,
        all_actions: bool,
        by: Option<String>,
    },
    SetTransition {
        stage: String,
        enabled: bool,
        reason: Option<String>,
        by: Option<String>,
    },
}

impl Event {
    /// The variant's name, as the event log records it.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Start { .. } => "Start",
            Event::ActionStarted { .. } => "ActionStarted",
            Event::ActionProgress { .. } => "ActionProgress",
            Event::ActionCompleted { .. } => "ActionCompleted",
            Event::Timeout { .. } => "Timeout",
            Event::Approval { .. } => "Approval",
            Event::Stop { .. } => "Stop",
            Event::Retry { .. } => "Retry",
            Event::SetTransition { .. } => "SetTransition",
        }
    }

    /// The execution the event is about, if any.
    pub fn execution(&self) -> Option<&str> {
        match self {
            Event::Start { execution, .. }
            | Event::ActionStarted { execution, .. }
            | Event::ActionProgress { execution, .. }
            | Event::ActionCompleted { execution, .. }
            | Event::Timeout { execution, .. }
            | Event::Approval { execution, .. }
            | Event::Stop { execution, .. }
            | Event::Retry { execution, .. } => Some(execution),
            Event::SetTransition { .. } => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActionOutcome {
    Succeeded {
        outputs: BTreeMap<String, String>,
        summary: Option<String>,
    },
    Failed {
        error: String,
        outputs: BTreeMap<String, String>,
    },
}

/// What the runtime must do after the step is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Start (or, after a crash, find) the external work of a run; its resolved
    /// configuration is in the execution's state.
    RunAction {
        execution: ExecutionId,
        run_id: RunId,
    },
    /// Ask the executor to stop the external work of a run that no longer counts.
    CancelAction {
        execution: ExecutionId,
        run_id: RunId,
        external_id: Option<String>,
    },
    /// Deliver `Event::Timeout` for the run at `at`.
    ArmTimer {
        execution: ExecutionId,
        run_id: RunId,
        at: Time,
    },
    /// An execution reached a terminal status; it may leave memory once stored.
    Finished { execution: ExecutionId },
}

/// Why a command was refused; nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
}

/// The definitions an engine step may need: every version with unfinished executions.
pub type Definitions = BTreeMap<u32, Arc<Pipeline>>;

/// What one step changed, for the runtime to store and carry out.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Step {
    pub effects: Vec<Effect>,
    /// Executions whose state changed.
    pub touched: BTreeSet<ExecutionId>,
    pub gates_changed: bool,
}

/// Applies one event. On `Err`, `state` is unchanged.
pub fn apply(
    definitions: &Definitions,
    state: &mut PipelineState,
    event: &Event,
    now: Time,
) -> Result<Step, Rejection> {
    let mut step = flow::Flow::new(definitions, state, now);
    match event {
        Event::Start {
            execution,
            version,
            trigger,
            variables,
            revision,
        } => step.start(execution, *version, trigger, variables, revision)?,
        Event::ActionStarted {
            execution,
            run_id,
            external_id,
            external_url,
        } => step.action_started(execution, run_id, external_id, external_url.as_deref()),
        Event::ActionProgress {
            execution,
            run_id,
            external_id,
            external_url,
            percent_complete,
            summary,
        } => step.action_progress(
            execution,
            run_id,
            external_id.as_deref(),
            external_url.as_deref(),
            *percent_complete,
            summary.as_deref(),
        ),
        Event::ActionCompleted {
            execution,
            run_id,
            outcome,
        } => step.action_completed(execution, run_id, outcome),
        Event::Timeout { execution, run_id } => step.timeout(execution, run_id),
        Event::Approval {
            execution,
            stage,
            action,
            approved,
            by,
            comment,
        } => step.approval(execution, stage, action, *approved, by, comment.as_deref())?,
        Event::Stop {
            execution,
            abandon,
            reason,
            by,
        } => step.stop(execution, *abandon, reason.as_deref(), by.as_deref())?,
        Event::Retry {
            execution,
            stage,
            all_actions,
            by: _,
        } => step.retry(execution, stage, *all_actions)?,
        Event::SetTransition {
            stage,
            enabled,
            reason,
            by,
        } => step.set_transition(stage, *enabled, reason.as_deref(), by.as_deref())?,
    }
    Ok(step.finish())
}
