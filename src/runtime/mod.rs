//! The runtime: turns engine effects into adapter calls and their outcomes back into
//! events, and keeps the write-ahead promise — every event is stored, with the state it
//! produced, before any of its effects run.
//!
//! One actor task per pipeline owns that pipeline's state (one writer per execution);
//! followers trigger and watch external work; timers deliver deadlines; recovery picks up
//! every unfinished execution after a restart without triggering anything twice.
//! Imports `engine`, `model`, `store` and `adapters`; never the API.

mod actor;
mod executors;
mod follower;
mod jobs;
mod metrics;
mod timers;
mod wakes;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::adapters::{Adapter, LogChunk};
use crate::engine::state::{Execution, Time};
use crate::engine::{Event, Rejection};
use crate::model::{Catalog, Pipeline};
use crate::store::{SourceRevision, Store, StoreError};

pub use executors::Executors;
pub use jobs::continuation_job;
pub use metrics::describe_metrics;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(transparent)]
    Rejected(#[from] Rejection),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("pipeline {0} not found")]
    PipelineNotFound(String),
    #[error("{0}")]
    Adapter(String),
    #[error("the daemon is shutting down")]
    ShuttingDown,
    /// A push or poll asked to start an execution for a revision that already started one.
    #[error("revision {0}")]
    RevisionSeen(String),
    /// The step was applied with others whose commit failed; nothing of it was stored.
    #[error("storing the step failed: {0}")]
    Unstored(String),
}

pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;

/// The runtime's source of the current time; tests substitute a clock they move.
pub type Clock = Arc<dyn Fn() -> Time + Send + Sync>;

/// Tunables, from the daemon settings.
#[derive(Clone)]
pub struct RuntimeOptions {
    /// First delay after a retryable adapter error; doubles up to `max_backoff`.
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    pub clock: Clock,
    /// Base URL of this daemon, for links given to CI servers.
    pub public_url: String,
    /// Where execution, stage and approval changes are published, once stored.
    pub notifier: Option<crate::notify::Notifier>,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        RuntimeOptions {
            min_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(60),
            clock: Arc::new(chrono::Utc::now),
            public_url: "http://127.0.0.1:8700".into(),
            notifier: None,
        }
    }
}

/// A cheap, cloneable handle on the runtime.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    executors: Executors,
    /// Replaced whole when an action type is registered through the API.
    catalog: std::sync::RwLock<Arc<Catalog>>,
    /// Bumped whenever a job is queued, so long polls for jobs answer at once.
    jobs_queued: tokio::sync::watch::Sender<u64>,
    options: RuntimeOptions,
    actors: Mutex<HashMap<String, mpsc::Sender<actor::Message>>>,
    /// Wake-ups for followers, by run id: a callback arrived, look now.
    wakers: Mutex<HashMap<String, Arc<wakes::Waker>>>,
    /// Which follower each callback key wakes.
    wake_index: wakes::WakeIndex,
    /// Cancellation of followers whose run stopped counting, by run id.
    followers: Mutex<HashMap<String, CancellationToken>>,
    changes: broadcast::Sender<String>,
    timers: mpsc::UnboundedSender<timers::TimerMessage>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
}

impl Runtime {
    pub fn new(
        store: Arc<dyn Store>,
        executors: Executors,
        catalog: Catalog,
        options: RuntimeOptions,
    ) -> Runtime {
        let (changes, _) = broadcast::channel(4096);
        let (timer_sender, timer_inbox) = mpsc::unbounded_channel();
        let runtime = Runtime {
            inner: Arc::new(Inner {
                store,
                executors,
                catalog: std::sync::RwLock::new(Arc::new(catalog)),
                jobs_queued: tokio::sync::watch::Sender::new(0),
                options,
                actors: Mutex::new(HashMap::new()),
                wakers: Mutex::new(HashMap::new()),
                wake_index: wakes::WakeIndex::default(),
                followers: Mutex::new(HashMap::new()),
                changes,
                timers: timer_sender,
                shutdown: CancellationToken::new(),
                tasks: TaskTracker::new(),
            }),
        };
        timers::spawn(runtime.clone(), timer_inbox);
        runtime
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The catalog as it stands now.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.inner
            .catalog
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Registers (or replaces) a custom action type for later validations and runs.
    pub fn set_action_type(&self, action_type: crate::model::ActionType) {
        let mut catalog = self
            .inner
            .catalog
            .write()
            .unwrap_or_else(|e| e.into_inner());
        let mut next = Catalog::clone(&catalog);
        next.action_types.insert(action_type.key(), action_type);
        *catalog = Arc::new(next);
    }

    /// Notices of newly queued jobs; a long poll waits on it.
    pub fn jobs_queued(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.jobs_queued.subscribe()
    }

    /// Tells long polls that jobs were queued.
    pub fn job_queued(&self) {
        self.inner
            .jobs_queued
            .send_modify(|n| *n = n.wrapping_add(1));
    }

    pub fn now(&self) -> Time {
        (self.inner.options.clock)()
    }

    /// Tells the timers the clock moved (tests that drive their own clock call this).
    pub fn clock_moved(&self) {
        let _ = self.inner.timers.send(timers::TimerMessage::Poke);
    }

    /// Picks up every unfinished execution: actors for their pipelines, followers for
    /// running actions (found again, never re-triggered), timers at their deadlines.
    pub async fn recover(&self) -> Result<usize> {
        let active = self.inner.store.active_executions(None).await?;
        let mut pipelines: Vec<String> = active.iter().map(|e| e.pipeline.clone()).collect();
        pipelines.dedup();
        for pipeline in &pipelines {
            self.actor(pipeline)?;
        }
        let count = active.len();
        let mut definitions: HashMap<(String, u32), Option<Pipeline>> = HashMap::new();
        for execution in active {
            let key = (execution.pipeline.clone(), execution.version);
            if !definitions.contains_key(&key) {
                let definition = self
                    .inner
                    .store
                    .pipeline_version(&execution.pipeline, execution.version)
                    .await?;
                definitions.insert(key.clone(), definition);
            }
            match &definitions[&key] {
                Some(definition) => self.resume(definition, &execution),
                None => tracing::error!(
                    execution = %execution.id,
                    version = execution.version,
                    "the pipeline version this execution runs is not stored; its actions are not resumed"
                ),
            }
        }
        Ok(count)
    }

    /// Applies an event to its pipeline and waits until it is stored. The execution it
    /// concerns is returned as it stands after the event.
    pub async fn submit(&self, pipeline: &str, event: Event) -> Result<Option<Execution>> {
        self.send_event(pipeline, event, None).await
    }

    /// Submits the start of an execution for a source revision, stored together with the
    /// revision; refused with `RevisionSeen` when the revision started one before.
    pub async fn submit_for_revision(
        &self,
        event: Event,
        seen: SourceRevision,
    ) -> Result<Option<Execution>> {
        let pipeline = seen.pipeline.clone();
        self.send_event(&pipeline, event, Some(Box::new(seen)))
            .await
    }

    async fn send_event(
        &self,
        pipeline: &str,
        event: Event,
        source: Option<Box<SourceRevision>>,
    ) -> Result<Option<Execution>> {
        let sender = self.actor(pipeline)?;
        let (reply, answer) = oneshot::channel();
        sender
            .send(actor::Message::Event {
                event,
                source,
                reply: Some(reply),
            })
            .await
            .map_err(|_| RuntimeError::ShuttingDown)?;
        answer.await.map_err(|_| RuntimeError::ShuttingDown)?
    }

    /// Tells the pipeline's actor that its definition changed.
    pub async fn definition_changed(&self, pipeline: &str) -> Result<()> {
        let sender = self.actor(pipeline)?;
        let (reply, answer) = oneshot::channel();
        sender
            .send(actor::Message::Reload { reply })
            .await
            .map_err(|_| RuntimeError::ShuttingDown)?;
        answer.await.map_err(|_| RuntimeError::ShuttingDown)?
    }

    /// Deletes a pipeline that has no unfinished executions.
    pub async fn delete_pipeline(&self, pipeline: &str) -> Result<bool> {
        let sender = self.actor(pipeline)?;
        let (reply, answer) = oneshot::channel();
        sender
            .send(actor::Message::Delete { reply })
            .await
            .map_err(|_| RuntimeError::ShuttingDown)?;
        let deleted = answer.await.map_err(|_| RuntimeError::ShuttingDown)??;
        self.inner
            .actors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(pipeline);
        Ok(deleted)
    }

    /// Wakes the follower of a run so it reads the external state now (a callback came).
    pub fn wake(&self, run_id: &str) -> bool {
        self.wake_to(run_id, wakes::Look::Now)
    }

    fn wake_to(&self, run_id: &str, look: wakes::Look) -> bool {
        let wakers = self.inner.wakers.lock().unwrap_or_else(|e| e.into_inner());
        match wakers.get(run_id) {
            Some(waker) => {
                waker.wake(look);
                true
            }
            None => false,
        }
    }

    /// Wakes the followers of the work a callback from `server` named; returns how many.
    /// A callback that names no follower yet is remembered briefly (see `wakes`).
    fn wake_keys(&self, server: &str, keys: &[String], look: wakes::Look) -> usize {
        let runs = self.inner.wake_index.runs(server, keys, Some(look));
        runs.iter().filter(|run| self.wake_to(run, look)).count()
    }

    /// Hands a callback to the server's adapter and wakes what it names: some followers
    /// at once or soon (returns how many), others after `Wakes::LATER`.
    pub fn callback(
        &self,
        server: &str,
        callback: &crate::adapters::Callback,
    ) -> std::result::Result<usize, crate::adapters::CallbackError> {
        let adapter = self
            .adapter_for(server)
            .ok_or(crate::adapters::CallbackError::Unsupported)?;
        let wakes = adapter.callback(callback)?;
        if !wakes.later.is_empty() {
            let runtime = self.clone();
            let server = server.to_string();
            let shutdown = self.inner.shutdown.clone();
            self.inner.tasks.spawn(async move {
                tokio::select! {
                    _ = tokio::time::sleep(crate::adapters::Wakes::LATER) => {}
                    _ = shutdown.cancelled() => return,
                }
                let runs = runtime.inner.wake_index.runs(&server, &wakes.later, None);
                for run in runs {
                    runtime.wake_to(&run, wakes::Look::Now);
                }
            });
        }
        Ok(self.wake_keys(server, &wakes.now, wakes::Look::Now)
            + self.wake_keys(server, &wakes.soon, wakes::Look::Soon))
    }

    /// The adapters of this daemon.
    pub fn executors(&self) -> &Executors {
        &self.inner.executors
    }

    /// Subscribes to "execution ID changed" notices.
    pub fn changes(&self) -> broadcast::Receiver<String> {
        self.inner.changes.subscribe()
    }

    /// Reads an action's log through its executor.
    pub async fn log(
        &self,
        execution: &Execution,
        stage: &str,
        action: &str,
        offset: u64,
    ) -> Result<Option<LogChunk>> {
        executors::read_log(self, execution, stage, action, offset).await
    }

    /// Cancelled when the runtime starts shutting down; background workers stop on it.
    pub fn stopping(&self) -> CancellationToken {
        self.inner.shutdown.clone()
    }

    /// Runs a background worker that shutdown waits for (up to its grace period).
    pub fn spawn_worker(&self, worker: impl std::future::Future<Output = ()> + Send + 'static) {
        self.inner.tasks.spawn(worker);
    }

    /// Stops taking work and waits (up to `grace`) for in-flight steps to finish.
    pub async fn shutdown(&self, grace: Duration) {
        self.inner.shutdown.cancel();
        self.inner
            .actors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.inner.tasks.close();
        if tokio::time::timeout(grace, self.inner.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("some runtime tasks were still running at shutdown");
        }
    }

    fn actor(&self, pipeline: &str) -> Result<mpsc::Sender<actor::Message>> {
        if self.inner.shutdown.is_cancelled() {
            return Err(RuntimeError::ShuttingDown);
        }
        let mut actors = self.inner.actors.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sender) = actors.get(pipeline).filter(|s| !s.is_closed()) {
            return Ok(sender.clone());
        }
        let sender = actor::spawn(self.clone(), pipeline.to_string());
        actors.insert(pipeline.to_string(), sender.clone());
        Ok(sender)
    }

    /// Restarts the work of an execution loaded from the store.
    fn resume(&self, definition: &Pipeline, execution: &Execution) {
        for stage in &execution.stages {
            for run in &stage.actions {
                if run.status != Some(crate::engine::state::ActionStatus::InProgress) {
                    continue;
                }
                let Some(run_id) = run.run_id.clone() else {
                    continue;
                };
                if let Some(at) = run.deadline {
                    self.arm_timer(&execution.pipeline, &execution.id, &run_id, at);
                }
                follower::spawn(self.clone(), definition, execution, &run_id, true);
            }
        }
    }

    fn arm_timer(&self, pipeline: &str, execution: &str, run_id: &str, at: Time) {
        let _ = self.inner.timers.send(timers::TimerMessage::Arm {
            at,
            pipeline: pipeline.to_string(),
            execution: execution.to_string(),
            run_id: run_id.to_string(),
        });
    }

    fn adapter_for(&self, server: &str) -> Option<Arc<dyn Adapter>> {
        self.inner.executors.server(server)
    }
}
