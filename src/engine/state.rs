//! The state the engine keeps: per pipeline, its active executions, its stage gates
//! (locks, waiting executions, transitions). Snapshots of these are what the store
//! persists after every event, so they derive serde; nothing else does.

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub type Time = DateTime<Utc>;

/// Execution ids are made by the service (UUIDv7), never by the engine.
pub type ExecutionId = String;

/// `{execution}.{n}`: the stable key of one attempt of one action, the idempotency key
/// that every trigger carries.
pub type RunId = String;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExecutionStatus {
    InProgress,
    Stopping,
    Stopped,
    Succeeded,
    Superseded,
    Failed,
}

impl ExecutionStatus {
    pub fn is_terminal(self) -> bool {
        !matches!(
            self,
            ExecutionStatus::InProgress | ExecutionStatus::Stopping
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::InProgress => "InProgress",
            ExecutionStatus::Stopping => "Stopping",
            ExecutionStatus::Stopped => "Stopped",
            ExecutionStatus::Succeeded => "Succeeded",
            ExecutionStatus::Superseded => "Superseded",
            ExecutionStatus::Failed => "Failed",
        }
    }

    pub const ALL: [ExecutionStatus; 6] = [
        ExecutionStatus::InProgress,
        ExecutionStatus::Stopping,
        ExecutionStatus::Stopped,
        ExecutionStatus::Succeeded,
        ExecutionStatus::Superseded,
        ExecutionStatus::Failed,
    ];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StageStatus {
    InProgress,
    Succeeded,
    Failed,
    Stopped,
    Cancelled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActionStatus {
    InProgress,
    Succeeded,
    Failed,
    Abandoned,
}

/// What started an execution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trigger {
    /// CodePipeline's `triggerType`: `StartPipelineExecution`, `Webhook`, `PollForSourceChanges`, ...
    pub kind: String,
    pub detail: Option<String>,
    pub by: Option<String>,
}

/// Where an execution is in its pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Position {
    /// Waiting in front of stage `n`: its transition is disabled or the stage is locked.
    Waiting(usize),
    /// Inside stage `n`.
    InStage(usize),
    /// Finished; nothing held.
    Done,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopRequest {
    pub abandon: bool,
    pub reason: Option<String>,
    pub by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Execution {
    pub id: ExecutionId,
    pub pipeline: String,
    pub version: u32,
    pub status: ExecutionStatus,
    pub status_summary: Option<String>,
    pub trigger: Trigger,
    /// Pipeline variables as resolved at start (given value or default).
    pub variables: BTreeMap<String, String>,
    /// The source revision asked for at start, if any.
    pub revision: Option<String>,
    pub position: Position,
    pub stages: Vec<StageRun>,
    pub stop: Option<StopRequest>,
    pub started_at: Time,
    pub updated_at: Time,
    pub finished_at: Option<Time>,
    /// Counter behind action run ids; never reused within the execution.
    pub runs_started: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageRun {
    pub name: String,
    pub status: Option<StageStatus>,
    /// 0 before the stage is entered, then 1, 2, ... with each retry.
    pub attempt: u32,
    pub started_at: Option<Time>,
    pub finished_at: Option<Time>,
    pub actions: Vec<ActionRun>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionRun {
    pub name: String,
    pub run_order: u16,
    pub status: Option<ActionStatus>,
    pub run_id: Option<RunId>,
    pub attempt: u32,
    pub started_at: Option<Time>,
    pub finished_at: Option<Time>,
    /// When the action times out.
    pub deadline: Option<Time>,
    /// The configuration after variable substitution, as given to the executor.
    pub resolved_configuration: crate::model::ResolvedConfiguration,
    /// Set once the executor confirmed it started external work; until then a trigger may
    /// or may not have reached the CI server.
    pub external_id: Option<String>,
    pub external_url: Option<String>,
    pub summary: Option<String>,
    pub error: Option<String>,
    pub percent_complete: Option<u8>,
    pub outputs: BTreeMap<String, String>,
    pub approvals: Vec<ApprovalVote>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalVote {
    pub by: String,
    pub approved: bool,
    pub comment: Option<String>,
    pub at: Time,
}

/// A stage's inbound transition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub enabled: bool,
    pub reason: Option<String>,
    pub changed_by: Option<String>,
    pub changed_at: Time,
}

/// Shared state of one pipeline's stages, keyed by stage name (names outlive versions).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gates {
    /// The execution inside each locked stage (SUPERSEDED and QUEUED modes).
    pub occupant: BTreeMap<String, ExecutionId>,
    /// Executions waiting in front of each stage, oldest first.
    pub waiting: BTreeMap<String, VecDeque<ExecutionId>>,
    /// Disabled (or re-enabled) inbound transitions.
    pub transitions: BTreeMap<String, Transition>,
    /// The execution that entered each stage last; only it may retry there.
    pub last_entered: BTreeMap<String, ExecutionId>,
}

impl Gates {
    pub fn transition_enabled(&self, stage: &str) -> bool {
        self.transitions.get(stage).is_none_or(|t| t.enabled)
    }
}

/// Everything the engine holds for one pipeline: its gates and its unfinished executions
/// (and, for the length of one step, any finished execution a command brought back).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PipelineState {
    pub gates: Gates,
    pub executions: BTreeMap<ExecutionId, Execution>,
}

impl Execution {
    pub fn action(&self, stage: usize, action: usize) -> &ActionRun {
        &self.stages[stage].actions[action]
    }

    /// Finds the action run with this id.
    pub fn find_run(&self, run_id: &str) -> Option<(usize, usize)> {
        self.stages.iter().enumerate().find_map(|(s, stage)| {
            stage
                .actions
                .iter()
                .position(|a| a.run_id.as_deref() == Some(run_id))
                .map(|a| (s, a))
        })
    }

    pub fn stage_index(&self, name: &str) -> Option<usize> {
        self.stages.iter().position(|s| s.name == name)
    }
}
