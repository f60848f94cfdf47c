//! The embedded store: one SQLite file in WAL mode, the default backend.
//!
//! Writes go through a pool of exactly one connection and each takes the write lock up
//! front (`BEGIN IMMEDIATE`), so writers queue in the process instead of failing with
//! `SQLITE_BUSY`; `busy_timeout` covers another process holding the file. Reads use a
//! separate pool of `query_only` connections, which WAL lets run beside the writer.
//! `synchronous=FULL` makes every commit wait for the log to reach the disk: once
//! `commit` returns, the step survives a power cut. The schema is in
//! `migrations/sqlite/`, embedded in the binary and applied by `open`.

mod codec;
mod executions;
mod jobs;
mod pipelines;
mod sources;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

use super::{
    Commit, Job, JobState, PutOutcome, Result, SourceRevision, Store, StoreError, StoredEvent,
    StoredPipeline,
};
use crate::engine::state::{Execution, Gates};
use crate::model::{ActionType, ActionTypeKey, Pipeline};

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// How long a statement waits for a lock held by another connection or process.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Concurrent readers; WAL lets each read a consistent snapshot while the writer writes.
const READERS: u32 = 4;

/// The SQLite implementation of [`Store`].
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// Exactly one connection: SQLite has one writer at a time.
    writer: SqlitePool,
    /// Read-only connections; the writer pool itself for an in-memory database.
    reader: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating it, and its directory, when missing) the database at `url`, such as
    /// `sqlite://baton-data/baton.db` (relative), `sqlite:///var/lib/baton/baton.db`
    /// (absolute) or `sqlite::memory:`, and brings its schema up to date.
    #[tracing::instrument(skip_all, fields(url = %url), err)]
    pub async fn open(url: &str) -> Result<SqliteStore> {
        if !url.starts_with("sqlite:") {
            return Err(config_error(format!("not a SQLite URL: {url}")));
        }
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .foreign_keys(true)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT);

        if in_memory {
            // Every connection of an in-memory database shares its one copy only while a
            // connection stays open, so the single writer never retires and also serves reads.
            let writer = writer_pool().connect_with(options).await?;
            MIGRATOR.run(&writer).await?;
            return Ok(SqliteStore {
                reader: writer.clone(),
                writer,
            });
        }

        if let Some(dir) = options
            .get_filename()
            .parent()
            .filter(|dir| !dir.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).map_err(sqlx::Error::Io)?;
        }
        // WAL is a property of the file, so the writer sets it once and readers inherit it.
        let writer = writer_pool()
            .connect_with(options.clone().journal_mode(SqliteJournalMode::Wal))
            .await?;
        MIGRATOR.run(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(READERS)
            .connect_with(options.pragma("query_only", "ON"))
            .await?;
        tracing::debug!("store open");
        Ok(SqliteStore { writer, reader })
    }

    /// Waits for in-flight statements and closes every connection. Not needed for
    /// durability (each commit already is), but it lets SQLite checkpoint the log.
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}

fn writer_pool() -> SqlitePoolOptions {
    SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        // The one writer is a file handle that never goes stale: a ping before every
        // commit would only add a round trip to its worker thread.
        .test_before_acquire(false)
}

fn config_error(message: String) -> StoreError {
    StoreError::Database(sqlx::Error::Configuration(message.into()))
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn put_pipeline(&self, definition: &Pipeline, now: DateTime<Utc>) -> Result<PutOutcome> {
        pipelines::put(&self.writer, definition, now).await
    }

    async fn pipeline(&self, name: &str) -> Result<Option<StoredPipeline>> {
        pipelines::get(&self.reader, name).await
    }

    async fn pipeline_version(&self, name: &str, version: u32) -> Result<Option<Pipeline>> {
        pipelines::version(&self.reader, name, version).await
    }

    async fn pipelines(&self) -> Result<Vec<StoredPipeline>> {
        pipelines::list(&self.reader).await
    }

    async fn delete_pipeline(&self, name: &str) -> Result<bool> {
        pipelines::delete(&self.writer, name).await
    }

    async fn gates(&self, pipeline: &str) -> Result<Gates> {
        pipelines::gates(&self.reader, pipeline).await
    }

    async fn commit(&self, commit: Commit<'_>) -> Result<()> {
        executions::commit(&self.writer, commit).await
    }

    async fn execution(&self, id: &str) -> Result<Option<Execution>> {
        executions::get(&self.reader, id).await
    }

    async fn executions(&self, pipeline: &str, limit: u32) -> Result<Vec<Execution>> {
        executions::history(&self.reader, pipeline, limit).await
    }

    async fn active_executions(&self, pipeline: Option<&str>) -> Result<Vec<Execution>> {
        executions::active(&self.reader, pipeline).await
    }

    async fn execution_counts(&self) -> Result<Vec<(String, i64)>> {
        executions::counts(&self.reader).await
    }

    async fn events(&self, execution_id: &str) -> Result<Vec<StoredEvent>> {
        executions::events(&self.reader, execution_id).await
    }

    async fn last_source_revision(
        &self,
        pipeline: &str,
        source: &str,
        git_ref: &str,
    ) -> Result<Option<String>> {
        sources::last(&self.reader, pipeline, source, git_ref).await
    }

    async fn source_revision_seen(
        &self,
        pipeline: &str,
        source: &str,
        git_ref: &str,
        revision: &str,
    ) -> Result<bool> {
        sources::seen(&self.reader, pipeline, source, git_ref, revision).await
    }

    async fn record_source_revision(&self, seen: &SourceRevision) -> Result<bool> {
        sources::record(&self.writer, seen)
            .await
            .map_err(|e| match e {
                StoreError::Database(error) if codec::is_foreign_key_violation(&error) => {
                    StoreError::Conflict(format!(
                        "source revision of pipeline {}: the pipeline is not stored",
                        seen.pipeline
                    ))
                }
                other => other,
            })
    }

    async fn put_action_type(&self, action_type: &ActionType, now: DateTime<Utc>) -> Result<()> {
        jobs::put_type(&self.writer, action_type, now).await
    }

    async fn action_types(&self) -> Result<Vec<ActionType>> {
        jobs::types(&self.reader).await
    }

    async fn create_job(&self, job: &Job) -> Result<bool> {
        jobs::create(&self.writer, job).await
    }

    async fn job(&self, id: &str) -> Result<Option<Job>> {
        jobs::get(&self.reader, id).await
    }

    async fn current_job(&self, run_id: &str) -> Result<Option<Job>> {
        jobs::current(&self.reader, run_id).await
    }

    async fn claim_jobs(
        &self,
        action_type: &ActionTypeKey,
        max: u32,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> Result<Vec<Job>> {
        jobs::claim(&self.writer, action_type, max, now, stale_before).await
    }

    async fn acknowledge_job(
        &self,
        id: &str,
        nonce: &str,
        worker: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Job>> {
        jobs::acknowledge(&self.writer, id, nonce, worker, now).await
    }

    async fn finish_job(
        &self,
        id: &str,
        state: JobState,
        result: &serde_json::Value,
        next: Option<&Job>,
        now: DateTime<Utc>,
    ) -> Result<Option<Job>> {
        jobs::finish(&self.writer, id, state, result, next, now).await
    }

    async fn cancel_jobs(&self, run_id: &str, now: DateTime<Utc>) -> Result<()> {
        jobs::cancel(&self.writer, run_id, now).await
    }

    async fn append_job_log(&self, job_id: &str, offset: u64, text: &str) -> Result<u64> {
        jobs::append_log(&self.writer, job_id, offset, text).await
    }

    async fn run_log(&self, run_id: &str) -> Result<String> {
        jobs::run_log(&self.reader, run_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pragma's value as text, whether SQLite reports it as text or as a number.
    async fn pragma(pool: &SqlitePool, name: &str) -> String {
        use sqlx::Row;
        let row = sqlx::query(&format!("PRAGMA {name}"))
            .fetch_one(pool)
            .await
            .unwrap();
        row.try_get::<String, _>(0)
            .or_else(|_| row.try_get::<i64, _>(0).map(|n| n.to_string()))
            .unwrap()
    }

    #[tokio::test]
    async fn open_creates_the_directory_and_sets_the_pragmas() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/baton.db");
        let store = SqliteStore::open(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        assert!(path.is_file());

        assert_eq!(pragma(&store.writer, "journal_mode").await, "wal");
        assert_eq!(pragma(&store.writer, "synchronous").await, "2"); // FULL
        assert_eq!(pragma(&store.writer, "foreign_keys").await, "1");
        assert_eq!(pragma(&store.writer, "busy_timeout").await, "5000");
        assert_eq!(pragma(&store.reader, "journal_mode").await, "wal");
        assert_eq!(pragma(&store.reader, "query_only").await, "1");
        store.ping().await.unwrap();

        // A second open of the same file finds the schema in place.
        store.close().await;
        let again = SqliteStore::open(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        assert!(again.pipelines().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn in_memory_keeps_its_data_across_calls() {
        let store = SqliteStore::open("sqlite::memory:").await.unwrap();
        assert_eq!(store.gates("p").await.unwrap(), Gates::default());
        let counts = store.execution_counts().await.unwrap();
        assert!(counts.iter().all(|(_, n)| *n == 0));
        assert_eq!(pragma(&store.writer, "foreign_keys").await, "1");
    }

    #[tokio::test]
    async fn other_schemes_are_refused() {
        let err = SqliteStore::open("postgres://localhost/baton")
            .await
            .unwrap_err();
        assert!(err.to_string().contains("not a SQLite URL"), "{err}");
    }
}
