//! Group commit in the pipeline actor: events that queue up while a commit is being
//! written are stored together in the next one, and nobody hears back (nor does any
//! effect start) before their step is durable.
//!
//! The store is the real SQLite store, wrapped to count the events of each commit and to
//! hold the first commit until the test lets it through.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;

use baton::adapters::git::GitSource;
use baton::engine::state::{Execution, ExecutionStatus, Gates, Trigger};
use baton::engine::Event;
use baton::model::{ActionType, ActionTypeKey, Catalog, Pipeline};
use baton::runtime::{Executors, Runtime, RuntimeOptions};
use baton::store::sqlite::SqliteStore;
use baton::store::{
    Commit, Job, JobState, PutOutcome, Result, SourceRevision, Store, StoredEvent, StoredPipeline,
};

const PIPELINE: &str = r#"
name: gated
executionMode: PARALLEL
stages:
  - name: Source
    actions:
      - name: Checkout
        provider: Git
        configuration:
          RepositoryUrl: https://git.invalid/example/shop.git
          BranchName: main
        outputArtifacts: [SourceOutput]
  - name: Review
    actions:
      - name: LooksGood
        provider: Manual
  - name: Release
    actions:
      - name: Ship
        provider: Manual
"#;

#[tokio::test(flavor = "current_thread")]
async fn queued_events_share_one_commit_and_wait_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("baton.db").display());
    let store = Arc::new(GatedStore {
        inner: SqliteStore::open(&url).await.unwrap(),
        gate: Semaphore::new(0),
        held: AtomicUsize::new(0),
        groups: Mutex::new(Vec::new()),
    });
    let pipeline = baton::model::load("gated.yaml", PIPELINE, &Catalog::default())
        .expect("pipeline loads")
        .pipeline;
    store.put_pipeline(&pipeline, Utc::now()).await.unwrap();
    let executors = Executors::new(Arc::new(GitSource::new(Duration::from_secs(5))));
    let runtime = Runtime::new(
        store.clone(),
        executors,
        Catalog::default(),
        RuntimeOptions::default(),
    );

    // The first start reaches the store and is held there.
    let first = tokio::spawn(start(runtime.clone(), 0));
    while store.held.load(Ordering::SeqCst) == 0 {
        tokio::task::yield_now().await;
    }

    // Nine more queue up at the actor meanwhile. On this single-threaded runtime a task's
    // first poll sends its event and then waits for the answer, so once all nine have
    // counted themselves in, all nine events are in the actor's inbox.
    let sent = Arc::new(AtomicUsize::new(0));
    let rest: Vec<_> = (1..10)
        .map(|n| {
            let (runtime, sent) = (runtime.clone(), sent.clone());
            tokio::spawn(async move {
                sent.fetch_add(1, Ordering::SeqCst);
                start(runtime, n).await
            })
        })
        .collect();
    while sent.load(Ordering::SeqCst) < 9 {
        tokio::task::yield_now().await;
    }
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert!(!first.is_finished(), "answered before its step was stored");
    assert!(rest.iter().all(|task| !task.is_finished()));
    assert!(store.groups.lock().unwrap().is_empty());

    store.gate.add_permits(usize::MAX >> 4);
    let mut started = vec![first.await.unwrap()];
    for task in rest {
        started.push(task.await.unwrap());
    }

    // The held start alone, then the nine queued behind it in one commit. (Later commits
    // carry the source actions' progress.)
    assert_eq!(store.groups.lock().unwrap()[..2], [1, 9]);
    for execution in &started {
        assert_eq!(execution.status, ExecutionStatus::InProgress);
        let stored = store.execution(&execution.id).await.unwrap().unwrap();
        assert_eq!(stored.status, ExecutionStatus::InProgress);
        let events = store.events(&execution.id).await.unwrap();
        assert_eq!(
            events.first().map(|e| e.record.kind.as_str()),
            Some("Start")
        );
    }
    runtime.shutdown(Duration::from_secs(1)).await;
}

async fn start(runtime: Runtime, n: usize) -> Execution {
    let event = Event::Start {
        execution: format!("00000000-0000-4000-8000-{n:012}"),
        version: 1,
        trigger: Trigger {
            kind: "StartPipelineExecution".into(),
            detail: None,
            by: Some("test".into()),
        },
        variables: BTreeMap::new(),
        // Started at a known revision, so the source action asks no repository.
        revision: Some("4b825dc642cb6eb9a060e54bf8d69288fbee4904".into()),
    };
    runtime
        .submit("gated", event)
        .await
        .expect("start accepted")
        .expect("the execution is answered")
}

/// The SQLite store, counting the events of each commit and holding every commit until
/// `gate` has a permit for it.
struct GatedStore {
    inner: SqliteStore,
    gate: Semaphore,
    /// Commits that reached the gate.
    held: AtomicUsize,
    /// Events per commit that went through, in order.
    groups: Mutex<Vec<usize>>,
}

#[async_trait]
impl Store for GatedStore {
    async fn commit(&self, commit: Commit<'_>) -> Result<()> {
        self.held.fetch_add(1, Ordering::SeqCst);
        self.gate.acquire().await.unwrap().forget();
        let events = commit.events.len();
        self.inner.commit(commit).await?;
        self.groups.lock().unwrap().push(events);
        Ok(())
    }

    async fn ping(&self) -> Result<()> {
        self.inner.ping().await
    }
    async fn put_pipeline(&self, definition: &Pipeline, now: DateTime<Utc>) -> Result<PutOutcome> {
        self.inner.put_pipeline(definition, now).await
    }
    async fn pipeline(&self, name: &str) -> Result<Option<StoredPipeline>> {
        self.inner.pipeline(name).await
    }
    async fn pipeline_version(&self, name: &str, version: u32) -> Result<Option<Pipeline>> {
        self.inner.pipeline_version(name, version).await
    }
    async fn pipelines(&self) -> Result<Vec<StoredPipeline>> {
        self.inner.pipelines().await
    }
    async fn delete_pipeline(&self, name: &str) -> Result<bool> {
        self.inner.delete_pipeline(name).await
    }
    async fn gates(&self, pipeline: &str) -> Result<Gates> {
        self.inner.gates(pipeline).await
    }
    async fn execution(&self, id: &str) -> Result<Option<Execution>> {
        self.inner.execution(id).await
    }
    async fn executions(&self, pipeline: &str, limit: u32) -> Result<Vec<Execution>> {
        self.inner.executions(pipeline, limit).await
    }
    async fn active_executions(&self, pipeline: Option<&str>) -> Result<Vec<Execution>> {
        self.inner.active_executions(pipeline).await
    }
    async fn execution_counts(&self) -> Result<Vec<(String, i64)>> {
        self.inner.execution_counts().await
    }
    async fn events(&self, execution_id: &str) -> Result<Vec<StoredEvent>> {
        self.inner.events(execution_id).await
    }
    async fn last_source_revision(
        &self,
        pipeline: &str,
        source: &str,
        git_ref: &str,
    ) -> Result<Option<String>> {
        self.inner
            .last_source_revision(pipeline, source, git_ref)
            .await
    }
    async fn source_revision_seen(
        &self,
        pipeline: &str,
        source: &str,
        git_ref: &str,
        revision: &str,
    ) -> Result<bool> {
        self.inner
            .source_revision_seen(pipeline, source, git_ref, revision)
            .await
    }
    async fn record_source_revision(&self, seen: &SourceRevision) -> Result<bool> {
        self.inner.record_source_revision(seen).await
    }
    async fn put_action_type(&self, action_type: &ActionType, now: DateTime<Utc>) -> Result<()> {
        self.inner.put_action_type(action_type, now).await
    }
    async fn action_types(&self) -> Result<Vec<ActionType>> {
        self.inner.action_types().await
    }
    async fn create_job(&self, job: &Job) -> Result<bool> {
        self.inner.create_job(job).await
    }
    async fn job(&self, id: &str) -> Result<Option<Job>> {
        self.inner.job(id).await
    }
    async fn current_job(&self, run_id: &str) -> Result<Option<Job>> {
        self.inner.current_job(run_id).await
    }
    async fn claim_jobs(
        &self,
        action_type: &ActionTypeKey,
        max: u32,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> Result<Vec<Job>> {
        self.inner
            .claim_jobs(action_type, max, now, stale_before)
            .await
    }
    async fn acknowledge_job(
        &self,
        id: &str,
        nonce: &str,
        worker: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Job>> {
        self.inner.acknowledge_job(id, nonce, worker, now).await
    }
    async fn finish_job(
        &self,
        id: &str,
        state: JobState,
        result: &serde_json::Value,
        next: Option<&Job>,
        now: DateTime<Utc>,
    ) -> Result<Option<Job>> {
        self.inner.finish_job(id, state, result, next, now).await
    }
    async fn cancel_jobs(&self, run_id: &str, now: DateTime<Utc>) -> Result<()> {
        self.inner.cancel_jobs(run_id, now).await
    }
    async fn append_job_log(&self, job_id: &str, offset: u64, text: &str) -> Result<u64> {
        self.inner.append_job_log(job_id, offset, text).await
    }
    async fn run_log(&self, run_id: &str) -> Result<String> {
        self.inner.run_log(run_id).await
    }
}
