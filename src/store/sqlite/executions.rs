//! The write-ahead path and what reads it back: `commit` appends a group of events and
//! writes the executions and gates they changed in a single transaction; the rest are the
//! queries over executions and the event log.

use sqlx::SqlitePool;

use super::codec::{decode_json, decode_time, encode_json, encode_time, is_foreign_key_violation};
use crate::engine::state::{Execution, ExecutionStatus};
use crate::store::{Commit, EventRecord, Result, StoreError, StoredEvent};

/// One execution, ready to bind: its indexed columns and its body.
struct ExecutionRow<'a> {
    execution: &'a Execution,
    started_at: String,
    updated_at: String,
    finished_at: Option<String>,
    body: String,
}

impl<'a> ExecutionRow<'a> {
    fn new(execution: &'a Execution) -> Result<Self> {
        Ok(ExecutionRow {
            execution,
            started_at: encode_time(execution.started_at),
            updated_at: encode_time(execution.updated_at),
            finished_at: execution.finished_at.map(encode_time),
            body: encode_json(execution)?,
        })
    }
}

pub(super) async fn commit(writer: &SqlitePool, commit: Commit<'_>) -> Result<()> {
    let Some(first) = commit.events.first() else {
        return Err(StoreError::Conflict(
            "a commit needs at least one event".into(),
        ));
    };
    // Encode everything before taking the write lock, to hold it as briefly as possible.
    let events = commit
        .events
        .iter()
        .map(|event| Ok((event, encode_json(&event.body)?, encode_time(event.at))))
        .collect::<Result<Vec<_>>>()?;
    let executions = commit
        .executions
        .iter()
        .map(|execution| ExecutionRow::new(execution))
        .collect::<Result<Vec<_>>>()?;
    let gates = commit.gates.map(encode_json).transpose()?;

    let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
    for (event, body, at) in &events {
        sqlx::query(
            "INSERT INTO events (pipeline, execution_id, kind, body, at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&event.pipeline)
        .bind(&event.execution_id)
        .bind(&event.kind)
        .bind(body)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            unknown_pipeline(e, || {
                format!("event {} of pipeline {}", event.kind, event.pipeline)
            })
        })?;
    }

    for row in &executions {
        let execution = row.execution;
        sqlx::query(
            r#"
            INSERT INTO executions (id, pipeline, version, status, started_at, updated_at, finished_at, body)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (id) DO UPDATE SET
                pipeline = excluded.pipeline,
                version = excluded.version,
                status = excluded.status,
                started_at = excluded.started_at,
                updated_at = excluded.updated_at,
                finished_at = excluded.finished_at,
                body = excluded.body
            "#,
        )
        .bind(&execution.id)
        .bind(&execution.pipeline)
        .bind(i64::from(execution.version))
        .bind(execution.status.as_str())
        .bind(&row.started_at)
        .bind(&row.updated_at)
        .bind(&row.finished_at)
        .bind(&row.body)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            unknown_pipeline(e, || format!("execution {} of pipeline {}", execution.id, execution.pipeline))
        })?;
    }

    if let Some(body) = &gates {
        sqlx::query(
            "INSERT INTO gates (pipeline, body) VALUES (?, ?) ON CONFLICT (pipeline) DO UPDATE SET body = excluded.body",
        )
        .bind(&first.pipeline)
        .bind(body)
        .execute(&mut *tx)
        .await?;
    }

    if let Some(seen) = commit.source {
        // The actor checked before applying the event; a row here means another writer
        // got there first, and this execution must not start.
        if !super::sources::insert(&mut tx, seen).await? {
            return Err(StoreError::Conflict(format!(
                "revision {} of {} was already seen by {}.{}",
                seen.revision, seen.git_ref, seen.pipeline, seen.source
            )));
        }
    }

    // With WAL and synchronous=FULL the commit returns only once the log is on disk.
    tx.commit().await?;
    Ok(())
}

/// Names the row a foreign key refused: it belongs to a pipeline that is not stored.
fn unknown_pipeline(error: sqlx::Error, what: impl FnOnce() -> String) -> StoreError {
    if is_foreign_key_violation(&error) {
        StoreError::Conflict(format!("{}: the pipeline is not stored", what()))
    } else {
        StoreError::Database(error)
    }
}

pub(super) async fn get(reader: &SqlitePool, id: &str) -> Result<Option<Execution>> {
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT id, body FROM executions WHERE id = ?")
            .bind(id)
            .fetch_optional(reader)
            .await?;
    row.map(decode_execution).transpose()
}

pub(super) async fn history(
    reader: &SqlitePool,
    pipeline: &str,
    limit: u32,
) -> Result<Vec<Execution>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT id, body FROM executions WHERE pipeline = ? ORDER BY started_at DESC, id DESC LIMIT ?",
    )
    .bind(pipeline)
    .bind(i64::from(limit))
    .fetch_all(reader)
    .await?;
    rows.into_iter().map(decode_execution).collect()
}

pub(super) async fn active(reader: &SqlitePool, pipeline: Option<&str>) -> Result<Vec<Execution>> {
    let in_progress = ExecutionStatus::InProgress.as_str();
    let stopping = ExecutionStatus::Stopping.as_str();
    let rows: Vec<(String, String)> =
        match pipeline {
            Some(pipeline) => {
                sqlx::query_as(
                    r#"
                SELECT id, body FROM executions
                WHERE status IN (?, ?) AND pipeline = ?
                ORDER BY started_at, id
                "#,
                )
                .bind(in_progress)
                .bind(stopping)
                .bind(pipeline)
                .fetch_all(reader)
                .await?
            }
            None => sqlx::query_as(
                "SELECT id, body FROM executions WHERE status IN (?, ?) ORDER BY started_at, id",
            )
            .bind(in_progress)
            .bind(stopping)
            .fetch_all(reader)
            .await?,
        };
    rows.into_iter().map(decode_execution).collect()
}

/// Every status, zero included (a metrics gauge must fall back to 0), in `ExecutionStatus::ALL`
/// order; a status the engine no longer knows is reported after them rather than hidden.
pub(super) async fn counts(reader: &SqlitePool) -> Result<Vec<(String, i64)>> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, COUNT(*) FROM executions GROUP BY status ORDER BY status")
            .fetch_all(reader)
            .await?;
    let mut counts: Vec<(String, i64)> = ExecutionStatus::ALL
        .iter()
        .map(|status| (status.as_str().to_owned(), 0))
        .collect();
    for (status, count) in rows {
        match counts.iter_mut().find(|(known, _)| *known == status) {
            Some(entry) => entry.1 = count,
            None => counts.push((status, count)),
        }
    }
    Ok(counts)
}

pub(super) async fn events(reader: &SqlitePool, execution_id: &str) -> Result<Vec<StoredEvent>> {
    type Row = (i64, String, Option<String>, String, String, String);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT seq, pipeline, execution_id, kind, body, at FROM events WHERE execution_id = ? ORDER BY seq",
    )
    .bind(execution_id)
    .fetch_all(reader)
    .await?;
    rows.into_iter()
        .map(|(seq, pipeline, execution_id, kind, body, at)| {
            Ok(StoredEvent {
                seq,
                record: EventRecord {
                    body: decode_json(&body, || format!("event {seq}"))?,
                    at: decode_time(&at, || format!("event {seq}"))?,
                    pipeline,
                    execution_id,
                    kind,
                },
            })
        })
        .collect()
}

fn decode_execution((id, body): (String, String)) -> Result<Execution> {
    decode_json(&body, || format!("execution {id}"))
}
