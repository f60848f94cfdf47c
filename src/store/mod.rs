//! Durable state: pipeline definitions and their versions, executions, the per-pipeline
//! stage gates, and the append-only event log that makes the runtime write-ahead. One
//! trait with domain verbs; `sqlite` is the embedded default, and a PostgreSQL backend
//! slots in beside it. May import `model` and `engine` state types, and sqlx; nothing above.

pub mod sqlite;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::engine::state::{Execution, Gates};
use crate::model::{ActionType, ActionTypeKey, Pipeline};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is unreadable ({what}): {source}")]
    Corrupt {
        what: String,
        source: serde_json::Error,
    },
    #[error("{0}")]
    Conflict(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A pipeline as stored: its current definition and bookkeeping.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredPipeline {
    pub name: String,
    pub version: u32,
    pub definition: Pipeline,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Result of `put_pipeline`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PutOutcome {
    pub version: u32,
    /// False when the definition equals the current one; the version then stays.
    pub changed: bool,
}

/// One entry of the event log, as the runtime appends it.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    pub pipeline: String,
    pub execution_id: Option<String>,
    /// The event's variant name, for querying without parsing `body`.
    pub kind: String,
    pub body: serde_json::Value,
    pub at: DateTime<Utc>,
}

/// An event read back, with its position in the log.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub seq: i64,
    pub record: EventRecord,
}

/// What one or more engine steps of a pipeline changed, written in a single transaction:
/// the events that caused them, in order, every execution they touched (as it stands after
/// the last one), and the pipeline's gates when they changed. Several steps share one
/// commit when events queue up at the pipeline (group commit): one durable write for all.
#[derive(Debug, Clone)]
pub struct Commit<'a> {
    /// At least one; all of the same pipeline.
    pub events: Vec<EventRecord>,
    pub executions: Vec<&'a Execution>,
    pub gates: Option<&'a Gates>,
    /// The source revision that started the execution, when a push or a poll did.
    pub source: Option<&'a SourceRevision>,
}

/// A revision of one ref, as seen by one source action of a pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRevision {
    pub pipeline: String,
    /// The source action's name.
    pub source: String,
    /// The full ref: `refs/heads/main`, `refs/tags/v1.4.0`.
    pub git_ref: String,
    pub revision: String,
    /// The execution it started; `None` when it was only recorded as a starting point.
    pub execution_id: Option<String>,
    pub seen_at: DateTime<Utc>,
}

/// Where a job stands; see `migrations/sqlite/0003_jobs.sql`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Queued,
    Dispatched,
    InProgress,
    Succeeded,
    Failed,
    Cancelled,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "Queued",
            JobState::Dispatched => "Dispatched",
            JobState::InProgress => "InProgress",
            JobState::Succeeded => "Succeeded",
            JobState::Failed => "Failed",
            JobState::Cancelled => "Cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<JobState> {
        [
            JobState::Queued,
            JobState::Dispatched,
            JobState::InProgress,
            JobState::Succeeded,
            JobState::Failed,
            JobState::Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }

    pub fn is_finished(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Cancelled
        )
    }
}

/// One call of a job worker for one action run.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: String,
    pub run_id: String,
    pub action_type: ActionTypeKey,
    pub pipeline: String,
    pub execution_id: String,
    pub state: JobState,
    /// Handed out with the job by a poll; the acknowledgement must carry it.
    pub nonce: Option<String>,
    /// What the worker gets: configuration, variables, continuation token.
    pub data: serde_json::Value,
    /// What the worker reported, once finished.
    pub result: Option<serde_json::Value>,
    /// The token that acknowledged it.
    pub worker: Option<String>,
    pub created_at: DateTime<Utc>,
    pub dispatched_at: Option<DateTime<Utc>>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Cheap round trip for readiness checks.
    async fn ping(&self) -> Result<()>;

    /// Creates the pipeline at version 1, or stores a new version when the definition
    /// differs from the current one. Every version stays readable.
    async fn put_pipeline(&self, definition: &Pipeline, now: DateTime<Utc>) -> Result<PutOutcome>;
    async fn pipeline(&self, name: &str) -> Result<Option<StoredPipeline>>;
    async fn pipeline_version(&self, name: &str, version: u32) -> Result<Option<Pipeline>>;
    async fn pipelines(&self) -> Result<Vec<StoredPipeline>>;
    /// Deletes the pipeline, its versions, gates, executions and events. False when absent.
    async fn delete_pipeline(&self, name: &str) -> Result<bool>;

    /// The pipeline's gates; default (all open, nothing waiting) when never written.
    async fn gates(&self, pipeline: &str) -> Result<Gates>;

    /// Appends the events and writes the executions and gates, atomically and durably.
    async fn commit(&self, commit: Commit<'_>) -> Result<()>;

    async fn execution(&self, id: &str) -> Result<Option<Execution>>;
    /// Executions of a pipeline, newest first, at most `limit`.
    async fn executions(&self, pipeline: &str, limit: u32) -> Result<Vec<Execution>>;
    /// Executions not yet finished (InProgress or Stopping), of one pipeline or all, oldest first.
    async fn active_executions(&self, pipeline: Option<&str>) -> Result<Vec<Execution>>;
    /// Number of executions per status, for metrics.
    async fn execution_counts(&self) -> Result<Vec<(String, i64)>>;

    /// The event log of one execution, in order.
    async fn events(&self, execution_id: &str) -> Result<Vec<StoredEvent>>;

    /// The revision of `git_ref` the source action saw last, if it saw any.
    async fn last_source_revision(
        &self,
        pipeline: &str,
        source: &str,
        git_ref: &str,
    ) -> Result<Option<String>>;
    /// Whether the source action has seen this revision of `git_ref` before.
    async fn source_revision_seen(
        &self,
        pipeline: &str,
        source: &str,
        git_ref: &str,
        revision: &str,
    ) -> Result<bool>;
    /// Records a revision that starts nothing (a starting point). A revision seen before
    /// stays as it is; false then.
    async fn record_source_revision(&self, seen: &SourceRevision) -> Result<bool>;

    /// Stores (creates or replaces) an action type registered through the API.
    async fn put_action_type(&self, action_type: &ActionType, now: DateTime<Utc>) -> Result<()>;
    async fn action_types(&self) -> Result<Vec<ActionType>>;

    /// Queues the first job of a run, unless the run has one already; false then.
    async fn create_job(&self, job: &Job) -> Result<bool>;
    async fn job(&self, id: &str) -> Result<Option<Job>>;
    /// The run's current (newest) job.
    async fn current_job(&self, run_id: &str) -> Result<Option<Job>>;
    /// Hands out up to `max` jobs of the type, oldest first: queued ones, and dispatched
    /// ones not acknowledged since `stale_before`. Each gets a fresh nonce.
    async fn claim_jobs(
        &self,
        action_type: &ActionTypeKey,
        max: u32,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> Result<Vec<Job>>;
    /// Marks a dispatched job InProgress if `nonce` is the one it was handed out with, and
    /// returns the job as it then stands (None when there is no such job).
    async fn acknowledge_job(
        &self,
        id: &str,
        nonce: &str,
        worker: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Job>>;
    /// Finishes an InProgress job with `result` and, for a continuation, queues `next` in
    /// the same transaction. Returns the job as it then stands.
    async fn finish_job(
        &self,
        id: &str,
        state: JobState,
        result: &serde_json::Value,
        next: Option<&Job>,
        now: DateTime<Utc>,
    ) -> Result<Option<Job>>;
    /// Cancels the run's unfinished jobs (the run stopped counting).
    async fn cancel_jobs(&self, run_id: &str, now: DateTime<Utc>) -> Result<()>;

    /// Appends `text` to an InProgress job's log at byte `offset`: stored when `offset` is
    /// the log's length, ignored when that part is already stored. Returns the length
    /// after, or `Conflict` for a gap or a job that is not InProgress.
    async fn append_job_log(&self, job_id: &str, offset: u64, text: &str) -> Result<u64>;
    /// The log of a run: every chunk of its jobs, in order.
    async fn run_log(&self, run_id: &str) -> Result<String>;
}
