//! The write-ahead path and what reads it back: `commit` appends a group of events and
//! writes the executions and gates they changed in a single transaction; the rest are the
//! queries over executions and the event log.

use sqlx::sqlite::SqliteArguments;
use sqlx::{Arguments, SqlitePool};

use super::codec::{
    decode_json, decode_time, encode_json, encode_time, is_foreign_key_violation,
    is_unique_violation,
};
use crate::engine::state::{Execution, ExecutionStatus};
use crate::store::{Commit, EventRecord, Result, StoreError, StoredEvent};

/// One value to bind.
enum Value {
    Text(String),
    Maybe(Option<String>),
    Integer(i64),
}

/// One statement of a commit with its values.
struct Statement {
    sql: &'static str,
    values: Vec<Value>,
}

impl Statement {
    fn bind_to(
        self,
        arguments: &mut SqliteArguments<'static>,
    ) -> std::result::Result<(), sqlx::Error> {
        for value in self.values {
            match value {
                Value::Text(text) => arguments.add(text),
                Value::Maybe(text) => arguments.add(text),
                Value::Integer(n) => arguments.add(n),
            }
            .map_err(sqlx::Error::Encode)?;
        }
        Ok(())
    }
}

/// At most this many statements (an event, its execution, the gates and a source revision)
/// go to the writer as one multi-statement query between `BEGIN` and `COMMIT`: one
/// hand-over to the writer's thread and back instead of one per statement, which is most
/// of a lone step's commit time after the sync. A larger group commit goes statement by
/// statement, each one's prepared form cached, as a batch's text (and with it its cached
/// preparation) would differ with every group's size.
const ONE_TRIP: usize = 4;

const INSERT_EVENT: &str =
    "INSERT INTO events (pipeline, execution_id, kind, body, at) VALUES (?, ?, ?, ?, ?)";

const UPSERT_EXECUTION: &str = r#"INSERT INTO executions (id, pipeline, version, status, started_at, updated_at, finished_at, body)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET
    pipeline = excluded.pipeline,
    version = excluded.version,
    status = excluded.status,
    started_at = excluded.started_at,
    updated_at = excluded.updated_at,
    finished_at = excluded.finished_at,
    body = excluded.body"#;

const UPSERT_GATES: &str =
    "INSERT INTO gates (pipeline, body) VALUES (?, ?) ON CONFLICT (pipeline) DO UPDATE SET body = excluded.body";

pub(super) async fn commit(writer: &SqlitePool, commit: Commit<'_>) -> Result<()> {
    use Value::{Integer, Maybe, Text};
    let Some(first) = commit.events.first() else {
        return Err(StoreError::Conflict(
            "a commit needs at least one event".into(),
        ));
    };
    // Everything is encoded before the writer is asked, so it holds its lock briefly.
    let mut statements = Vec::new();
    for event in &commit.events {
        statements.push(Statement {
            sql: INSERT_EVENT,
            values: vec![
                Text(event.pipeline.clone()),
                Maybe(event.execution_id.clone()),
                Text(event.kind.clone()),
                Text(encode_json(&event.body)?),
                Text(encode_time(event.at)),
            ],
        });
    }
    for execution in &commit.executions {
        statements.push(Statement {
            sql: UPSERT_EXECUTION,
            values: vec![
                Text(execution.id.clone()),
                Text(execution.pipeline.clone()),
                Integer(i64::from(execution.version)),
                Text(execution.status.as_str().to_string()),
                Text(encode_time(execution.started_at)),
                Text(encode_time(execution.updated_at)),
                Maybe(execution.finished_at.map(encode_time)),
                Text(encode_json(execution)?),
            ],
        });
    }
    if let Some(gates) = commit.gates {
        statements.push(Statement {
            sql: UPSERT_GATES,
            values: vec![Text(first.pipeline.clone()), Text(encode_json(gates)?)],
        });
    }
    if let Some(seen) = commit.source {
        statements.push(Statement {
            sql: super::sources::INSERT,
            values: vec![
                Text(seen.pipeline.clone()),
                Text(seen.source.clone()),
                Text(seen.git_ref.clone()),
                Text(seen.revision.clone()),
                Maybe(seen.execution_id.clone()),
                Text(encode_time(seen.seen_at)),
            ],
        });
    }
    // Spawned, so a caller that stops waiting cannot cut the commit short; with WAL and
    // synchronous=FULL it returns only once the log is on disk.
    let writer = writer.clone();
    let task = tokio::spawn(async move {
        if statements.len() <= ONE_TRIP {
            in_one_trip(&writer, statements).await
        } else {
            one_by_one(&writer, statements).await
        }
    });
    task.await
        .map_err(|e| sqlx::Error::Io(std::io::Error::other(e)))
        .and_then(|done| done)
        .map_err(|error| refused(error, &commit))
}

async fn in_one_trip(
    writer: &SqlitePool,
    statements: Vec<Statement>,
) -> std::result::Result<(), sqlx::Error> {
    let mut sql = String::from("BEGIN IMMEDIATE;\n");
    let mut arguments = SqliteArguments::default();
    for statement in statements {
        sql.push_str(statement.sql);
        sql.push_str(";\n");
        statement.bind_to(&mut arguments)?;
    }
    sql.push_str("COMMIT;");
    let mut connection = writer.acquire().await?;
    let done = sqlx::query_with(&sql, arguments)
        .execute(&mut *connection)
        .await;
    if done.is_err() {
        // Also when BEGIN itself failed: SQLite then answers that no transaction is
        // active, which is what this makes sure of.
        let _ = sqlx::query("ROLLBACK").execute(&mut *connection).await;
    }
    done.map(|_| ())
}

async fn one_by_one(
    writer: &SqlitePool,
    statements: Vec<Statement>,
) -> std::result::Result<(), sqlx::Error> {
    let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
    for statement in statements {
        let sql = statement.sql;
        let mut arguments = SqliteArguments::default();
        statement.bind_to(&mut arguments)?;
        sqlx::query_with(sql, arguments).execute(&mut *tx).await?;
    }
    tx.commit().await
}

/// Says which rule refused a commit: a row of a pipeline that is not stored, or a source
/// revision another writer recorded first.
fn refused(error: sqlx::Error, commit: &Commit<'_>) -> StoreError {
    if is_foreign_key_violation(&error) {
        let pipelines: std::collections::BTreeSet<&str> = commit
            .events
            .iter()
            .map(|e| e.pipeline.as_str())
            .chain(commit.executions.iter().map(|e| e.pipeline.as_str()))
            .collect();
        let pipelines: Vec<&str> = pipelines.into_iter().collect();
        return StoreError::Conflict(format!(
            "the commit names a pipeline that is not stored ({}); nothing of it was written",
            pipelines.join(", ")
        ));
    }
    match commit.source {
        Some(seen) if is_unique_violation(&error) => StoreError::Conflict(format!(
            "revision {} of {} was already seen by {}.{}",
            seen.revision, seen.git_ref, seen.pipeline, seen.source
        )),
        _ => StoreError::Database(error),
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
