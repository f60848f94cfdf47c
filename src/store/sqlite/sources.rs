//! Source revisions: what each source action of a pipeline has seen, so a revision starts
//! at most one execution. A push or poll that starts an execution has its row written by
//! the commit that starts it; `record` writes a starting point on its own.

use sqlx::{Sqlite, SqlitePool, Transaction};

use super::codec::encode_time;
use crate::store::{Result, SourceRevision};

/// Writes `seen` unless that revision of the ref is already recorded; false then.
async fn insert(tx: &mut Transaction<'_, Sqlite>, seen: &SourceRevision) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO source_revisions (pipeline, source, git_ref, revision, execution_id, seen_at) \
         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (pipeline, source, git_ref, revision) DO NOTHING",
    )
    .bind(&seen.pipeline)
    .bind(&seen.source)
    .bind(&seen.git_ref)
    .bind(&seen.revision)
    .bind(&seen.execution_id)
    .bind(encode_time(seen.seen_at))
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn record(writer: &SqlitePool, seen: &SourceRevision) -> Result<bool> {
    let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
    let inserted = insert(&mut tx, seen).await?;
    tx.commit().await?;
    Ok(inserted)
}

pub(super) async fn last(
    reader: &SqlitePool,
    pipeline: &str,
    source: &str,
    git_ref: &str,
) -> Result<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT revision FROM source_revisions WHERE pipeline = ? AND source = ? AND git_ref = ? \
         ORDER BY seq DESC LIMIT 1",
    )
    .bind(pipeline)
    .bind(source)
    .bind(git_ref)
    .fetch_optional(reader)
    .await?)
}

pub(super) async fn seen(
    reader: &SqlitePool,
    pipeline: &str,
    source: &str,
    git_ref: &str,
    revision: &str,
) -> Result<bool> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM source_revisions \
         WHERE pipeline = ? AND source = ? AND git_ref = ? AND revision = ?",
    )
    .bind(pipeline)
    .bind(source)
    .bind(git_ref)
    .bind(revision)
    .fetch_optional(reader)
    .await?;
    Ok(found.is_some())
}
