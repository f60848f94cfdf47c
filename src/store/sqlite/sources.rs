//! Source revisions: what each source action of a pipeline has seen, so a revision starts
//! at most one execution. A push or poll that starts an execution has its row written by
//! the commit that starts it; `record` writes a starting point on its own.

use sqlx::SqlitePool;

use super::codec::{encode_time, is_unique_violation};
use crate::store::{Result, SourceRevision};

/// The row of a revision a source saw. No `ON CONFLICT`: a revision already recorded is
/// refused, which fails a commit that would start a second execution for it (the actor
/// checked before, so another writer got there first), and which `record` reports.
pub(super) const INSERT: &str = "INSERT INTO source_revisions \
    (pipeline, source, git_ref, revision, execution_id, seen_at) VALUES (?, ?, ?, ?, ?, ?)";

/// Writes `seen` unless that revision of the ref is already recorded; false then.
pub(super) async fn record(writer: &SqlitePool, seen: &SourceRevision) -> Result<bool> {
    let done = sqlx::query(INSERT)
        .bind(&seen.pipeline)
        .bind(&seen.source)
        .bind(&seen.git_ref)
        .bind(&seen.revision)
        .bind(&seen.execution_id)
        .bind(encode_time(seen.seen_at))
        .execute(writer)
        .await;
    match done {
        Ok(_) => Ok(true),
        Err(error) if is_unique_violation(&error) => Ok(false),
        Err(error) => Err(error.into()),
    }
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
