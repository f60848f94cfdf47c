//! Custom action types registered through the API, and the job queue of the job-worker
//! protocol. Claims and acknowledgements are conditional updates on the single writer
//! connection, so two workers can never both get one job.

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, SqlitePool, Transaction};

use super::codec::{corrupt, decode_json, decode_time, encode_json, encode_time};
use crate::model::{ActionType, ActionTypeKey, Category};
use crate::store::{Job, JobState, Result, StoreError};

const COLUMNS: &str = "id, run_id, category, provider, version, pipeline, execution_id, state, \
     nonce, data, result, worker, created_at, dispatched_at, acknowledged_at, finished_at";

pub(super) async fn put_type(
    writer: &SqlitePool,
    action_type: &ActionType,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO action_types (category, provider, version, definition, updated_at) \
         VALUES (?, ?, ?, ?, ?) ON CONFLICT (category, provider, version) \
         DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at",
    )
    .bind(action_type.category.to_string())
    .bind(&action_type.provider)
    .bind(&action_type.version)
    .bind(encode_json(action_type)?)
    .bind(encode_time(now))
    .execute(writer)
    .await?;
    Ok(())
}

pub(super) async fn types(reader: &SqlitePool) -> Result<Vec<ActionType>> {
    let rows: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT category, provider, version, definition FROM action_types \
         ORDER BY category, provider, version",
    )
    .fetch_all(reader)
    .await?;
    rows.into_iter()
        .map(|(c, p, v, definition)| {
            decode_json(&definition, || format!("action type {c}/{p}/{v}"))
        })
        .collect()
}

pub(super) async fn create(writer: &SqlitePool, job: &Job) -> Result<bool> {
    let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
    let existing: Option<i64> = sqlx::query_scalar("SELECT 1 FROM jobs WHERE run_id = ? LIMIT 1")
        .bind(&job.run_id)
        .fetch_optional(&mut *tx)
        .await?;
    if existing.is_some() {
        return Ok(false);
    }
    insert(&mut tx, job).await?;
    tx.commit().await?;
    Ok(true)
}

async fn insert(tx: &mut Transaction<'_, Sqlite>, job: &Job) -> Result<()> {
    sqlx::query(&format!(
        "INSERT INTO jobs ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ))
    .bind(&job.id)
    .bind(&job.run_id)
    .bind(job.action_type.category.to_string())
    .bind(&job.action_type.provider)
    .bind(&job.action_type.version)
    .bind(&job.pipeline)
    .bind(&job.execution_id)
    .bind(job.state.as_str())
    .bind(&job.nonce)
    .bind(encode_json(&job.data)?)
    .bind(job.result.as_ref().map(encode_json).transpose()?)
    .bind(&job.worker)
    .bind(encode_time(job.created_at))
    .bind(job.dispatched_at.map(encode_time))
    .bind(job.acknowledged_at.map(encode_time))
    .bind(job.finished_at.map(encode_time))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(super) async fn get(pool: &SqlitePool, id: &str) -> Result<Option<Job>> {
    sqlx::query(&format!("SELECT {COLUMNS} FROM jobs WHERE id = ?"))
        .bind(id)
        .fetch_optional(pool)
        .await?
        .map(|row| decode(&row))
        .transpose()
}

pub(super) async fn current(pool: &SqlitePool, run_id: &str) -> Result<Option<Job>> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM jobs WHERE run_id = ? ORDER BY seq DESC LIMIT 1"
    ))
    .bind(run_id)
    .fetch_optional(pool)
    .await?
    .map(|row| decode(&row))
    .transpose()
}

pub(super) async fn claim(
    writer: &SqlitePool,
    key: &ActionTypeKey,
    max: u32,
    now: DateTime<Utc>,
    stale_before: DateTime<Utc>,
) -> Result<Vec<Job>> {
    let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM jobs WHERE category = ? AND provider = ? AND version = ? \
         AND (state = 'Queued' OR (state = 'Dispatched' AND dispatched_at < ?)) \
         ORDER BY seq LIMIT ?",
    )
    .bind(key.category.to_string())
    .bind(&key.provider)
    .bind(&key.version)
    .bind(encode_time(stale_before))
    .bind(i64::from(max))
    .fetch_all(&mut *tx)
    .await?;
    let mut claimed = Vec::with_capacity(ids.len());
    for id in ids {
        let nonce = uuid::Uuid::new_v4().to_string();
        let row = sqlx::query(&format!(
            "UPDATE jobs SET state = 'Dispatched', nonce = ?, dispatched_at = ? \
             WHERE id = ? RETURNING {COLUMNS}"
        ))
        .bind(&nonce)
        .bind(encode_time(now))
        .bind(&id)
        .fetch_one(&mut *tx)
        .await?;
        claimed.push(decode(&row)?);
    }
    tx.commit().await?;
    Ok(claimed)
}

pub(super) async fn acknowledge(
    writer: &SqlitePool,
    id: &str,
    nonce: &str,
    worker: &str,
    now: DateTime<Utc>,
) -> Result<Option<Job>> {
    sqlx::query(
        "UPDATE jobs SET state = 'InProgress', acknowledged_at = ?, worker = ? \
         WHERE id = ? AND nonce = ? AND state = 'Dispatched'",
    )
    .bind(encode_time(now))
    .bind(worker)
    .bind(id)
    .bind(nonce)
    .execute(writer)
    .await?;
    get(writer, id).await
}

pub(super) async fn finish(
    writer: &SqlitePool,
    id: &str,
    state: JobState,
    result: &serde_json::Value,
    next: Option<&Job>,
    now: DateTime<Utc>,
) -> Result<Option<Job>> {
    let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
    let done = sqlx::query(
        "UPDATE jobs SET state = ?, result = ?, finished_at = ? \
         WHERE id = ? AND state = 'InProgress'",
    )
    .bind(state.as_str())
    .bind(encode_json(result)?)
    .bind(encode_time(now))
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 1 {
        if let Some(next) = next {
            insert(&mut tx, next).await?;
        }
    }
    tx.commit().await?;
    get(writer, id).await
}

pub(super) async fn cancel(writer: &SqlitePool, run_id: &str, now: DateTime<Utc>) -> Result<()> {
    sqlx::query(
        "UPDATE jobs SET state = 'Cancelled', finished_at = ? \
         WHERE run_id = ? AND state IN ('Queued', 'Dispatched', 'InProgress')",
    )
    .bind(encode_time(now))
    .bind(run_id)
    .execute(writer)
    .await?;
    Ok(())
}

pub(super) async fn append_log(
    writer: &SqlitePool,
    job_id: &str,
    offset: u64,
    text: &str,
) -> Result<u64> {
    let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
    let job: Option<(String, String)> =
        sqlx::query_as("SELECT run_id, state FROM jobs WHERE id = ?")
            .bind(job_id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some((run_id, state)) = job else {
        return Err(StoreError::Conflict(format!("job {job_id} not found")));
    };
    let length: i64 =
        sqlx::query_scalar("SELECT COALESCE(SUM(bytes), 0) FROM job_logs WHERE job_id = ?")
            .bind(job_id)
            .fetch_one(&mut *tx)
            .await?;
    let length = u64::try_from(length).unwrap_or(0);
    let end = offset.saturating_add(text.len() as u64);
    if end <= length {
        // Stored before: the answer to that append was lost.
        return Ok(length);
    }
    if offset != length {
        return Err(StoreError::Conflict(format!(
            "the log of job {job_id} has {length} bytes; an append at {offset} leaves a gap"
        )));
    }
    if state != JobState::InProgress.as_str() {
        return Err(StoreError::Conflict(format!(
            "InvalidJobState: job {job_id} is {state}"
        )));
    }
    sqlx::query("INSERT INTO job_logs (job_id, run_id, bytes, text) VALUES (?, ?, ?, ?)")
        .bind(job_id)
        .bind(&run_id)
        .bind(i64::try_from(text.len()).unwrap_or(i64::MAX))
        .bind(text)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(end)
}

pub(super) async fn run_log(reader: &SqlitePool, run_id: &str) -> Result<String> {
    let chunks: Vec<String> =
        sqlx::query_scalar("SELECT text FROM job_logs WHERE run_id = ? ORDER BY seq")
            .bind(run_id)
            .fetch_all(reader)
            .await?;
    Ok(chunks.concat())
}

fn decode(row: &SqliteRow) -> Result<Job> {
    let id: String = row.try_get("id")?;
    let what = || format!("job {id}");
    let time = |column: &str| -> Result<Option<DateTime<Utc>>> {
        let text: Option<String> = row.try_get(column)?;
        text.map(|t| decode_time(&t, what)).transpose()
    };
    let category: String = row.try_get("category")?;
    let category: Category = serde_json::from_value(serde_json::Value::String(category))
        .map_err(|e| corrupt(what(), e))?;
    let state: String = row.try_get("state")?;
    let state = JobState::parse(&state).ok_or_else(|| {
        corrupt(
            what(),
            serde::de::Error::custom(format!("unknown job state {state:?}")),
        )
    })?;
    let data: String = row.try_get("data")?;
    let result: Option<String> = row.try_get("result")?;
    let created: String = row.try_get("created_at")?;
    Ok(Job {
        run_id: row.try_get("run_id")?,
        action_type: ActionTypeKey {
            category,
            provider: row.try_get("provider")?,
            version: row.try_get("version")?,
        },
        pipeline: row.try_get("pipeline")?,
        execution_id: row.try_get("execution_id")?,
        state,
        nonce: row.try_get("nonce")?,
        data: decode_json(&data, what)?,
        result: result.map(|r| decode_json(&r, what)).transpose()?,
        worker: row.try_get("worker")?,
        created_at: decode_time(&created, what)?,
        dispatched_at: time("dispatched_at")?,
        acknowledged_at: time("acknowledged_at")?,
        finished_at: time("finished_at")?,
        id,
    })
}
