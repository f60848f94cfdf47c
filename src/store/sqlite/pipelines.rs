//! Pipeline definitions, their versions and their gates. A definition is stored as the
//! canonical JSON serde makes of it; a new version is written only when that JSON differs
//! from the current version's.

use chrono::{DateTime, Utc};
use sqlx::SqlitePool;

use super::codec::{decode_json, decode_time, decode_version, encode_json, encode_time};
use crate::engine::state::Gates;
use crate::model::Pipeline;
use crate::store::{PutOutcome, Result, StoreError, StoredPipeline};

/// Columns of the current version of a pipeline, as `read_stored` expects them.
const SELECT_CURRENT: &str = r#"
    SELECT p.name, p.version, p.created_at, p.updated_at, v.definition
    FROM pipelines p
    JOIN pipeline_versions v ON v.name = p.name AND v.version = p.version
"#;

type CurrentRow = (String, i64, String, String, String);

pub(super) async fn put(
    writer: &SqlitePool,
    definition: &Pipeline,
    now: DateTime<Utc>,
) -> Result<PutOutcome> {
    let name = definition.name.as_str();
    let canonical = serde_json::to_value(definition)
        .map_err(|e| StoreError::Database(sqlx::Error::Encode(Box::new(e))))?;
    let text = encode_json(&canonical)?;
    let now = encode_time(now);

    // IMMEDIATE takes the write lock up front, so the read of the current version and the
    // write of the next one cannot interleave with another writer's.
    let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
    let current: Option<(i64, String)> = sqlx::query_as(
        r#"
        SELECT p.version, v.definition
        FROM pipelines p
        JOIN pipeline_versions v ON v.name = p.name AND v.version = p.version
        WHERE p.name = ?
        "#,
    )
    .bind(name)
    .fetch_optional(&mut *tx)
    .await?;

    let version = match current {
        None => {
            sqlx::query(
                "INSERT INTO pipelines (name, version, created_at, updated_at) VALUES (?, 1, ?, ?)",
            )
            .bind(name)
            .bind(&now)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
            1
        }
        Some((version, stored)) => {
            let version = decode_version(version, || format!("pipeline {name}"))?;
            // Compare what serde makes of both, so that a field added to the model since
            // the old version was written does not count as a change.
            match serde_json::from_str::<Pipeline>(&stored).and_then(|p| serde_json::to_value(&p)) {
                Ok(old) if old == canonical => {
                    tx.rollback().await?;
                    return Ok(PutOutcome {
                        version,
                        changed: false,
                    });
                }
                Ok(_) => {}
                // An unreadable current version must not block replacing it.
                Err(e) => {
                    tracing::warn!(pipeline = name, version, error = %e, "replacing an unreadable definition")
                }
            }
            let next = version.checked_add(1).ok_or_else(|| {
                StoreError::Conflict(format!("pipeline {name} has run out of version numbers"))
            })?;
            sqlx::query("UPDATE pipelines SET version = ?, updated_at = ? WHERE name = ?")
                .bind(i64::from(next))
                .bind(&now)
                .bind(name)
                .execute(&mut *tx)
                .await?;
            next
        }
    };

    sqlx::query(
        "INSERT INTO pipeline_versions (name, version, definition, created_at) VALUES (?, ?, ?, ?)",
    )
    .bind(name)
    .bind(i64::from(version))
    .bind(&text)
    .bind(&now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(PutOutcome {
        version,
        changed: true,
    })
}

pub(super) async fn get(reader: &SqlitePool, name: &str) -> Result<Option<StoredPipeline>> {
    let sql = format!("{SELECT_CURRENT} WHERE p.name = ?");
    let row: Option<CurrentRow> = sqlx::query_as(&sql)
        .bind(name)
        .fetch_optional(reader)
        .await?;
    row.map(read_stored).transpose()
}

pub(super) async fn list(reader: &SqlitePool) -> Result<Vec<StoredPipeline>> {
    let sql = format!("{SELECT_CURRENT} ORDER BY p.name");
    let rows: Vec<CurrentRow> = sqlx::query_as(&sql).fetch_all(reader).await?;
    rows.into_iter().map(read_stored).collect()
}

pub(super) async fn version(
    reader: &SqlitePool,
    name: &str,
    version: u32,
) -> Result<Option<Pipeline>> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT definition FROM pipeline_versions WHERE name = ? AND version = ?")
            .bind(name)
            .bind(i64::from(version))
            .fetch_optional(reader)
            .await?;
    row.map(|(text,)| decode_json(&text, || format!("pipeline {name} version {version}")))
        .transpose()
}

pub(super) async fn delete(writer: &SqlitePool, name: &str) -> Result<bool> {
    let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
    // The foreign keys cascade too; deleting explicitly keeps this correct even on a
    // connection where they are off.
    for sql in [
        "DELETE FROM events WHERE pipeline = ?",
        "DELETE FROM executions WHERE pipeline = ?",
        "DELETE FROM gates WHERE pipeline = ?",
        "DELETE FROM pipeline_versions WHERE name = ?",
    ] {
        sqlx::query(sql).bind(name).execute(&mut *tx).await?;
    }
    let deleted = sqlx::query("DELETE FROM pipelines WHERE name = ?")
        .bind(name)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(deleted > 0)
}

pub(super) async fn gates(reader: &SqlitePool, pipeline: &str) -> Result<Gates> {
    let row: Option<(String,)> = sqlx::query_as("SELECT body FROM gates WHERE pipeline = ?")
        .bind(pipeline)
        .fetch_optional(reader)
        .await?;
    match row {
        Some((body,)) => decode_json(&body, || format!("gates of pipeline {pipeline}")),
        None => Ok(Gates::default()),
    }
}

fn read_stored(
    (name, version, created_at, updated_at, definition): CurrentRow,
) -> Result<StoredPipeline> {
    let version = decode_version(version, || format!("pipeline {name}"))?;
    Ok(StoredPipeline {
        definition: decode_json(&definition, || format!("pipeline {name} version {version}"))?,
        created_at: decode_time(&created_at, || format!("pipeline {name} created_at"))?,
        updated_at: decode_time(&updated_at, || format!("pipeline {name} updated_at"))?,
        version,
        name,
    })
}
