-- Baton's SQLite schema, version 1.
--
-- Bodies (definitions, executions, gates, events) are JSON text written by serde; the
-- other columns exist only to be indexed and queried. Timestamps are RFC 3339 in UTC with
-- exactly nine fractional digits ("2025-01-02T03:04:05.123456789Z"), so comparing the
-- text orders them by time. Everything a pipeline owns hangs off `pipelines` with
-- ON DELETE CASCADE, so nothing can outlive its pipeline or be written for one that
-- does not exist.

CREATE TABLE pipelines (
    name       TEXT    NOT NULL PRIMARY KEY,
    version    INTEGER NOT NULL CHECK (version >= 1),
    created_at TEXT    NOT NULL,
    updated_at TEXT    NOT NULL
) STRICT;

CREATE TABLE pipeline_versions (
    name       TEXT    NOT NULL REFERENCES pipelines (name) ON DELETE CASCADE,
    version    INTEGER NOT NULL CHECK (version >= 1),
    definition TEXT    NOT NULL,
    created_at TEXT    NOT NULL,
    PRIMARY KEY (name, version)
) STRICT, WITHOUT ROWID;

CREATE TABLE gates (
    pipeline TEXT NOT NULL PRIMARY KEY REFERENCES pipelines (name) ON DELETE CASCADE,
    body     TEXT NOT NULL
) STRICT;

CREATE TABLE executions (
    id          TEXT    NOT NULL PRIMARY KEY,
    pipeline    TEXT    NOT NULL REFERENCES pipelines (name) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    status      TEXT    NOT NULL,
    started_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL,
    finished_at TEXT,
    body        TEXT    NOT NULL
) STRICT;

-- History of one pipeline, newest first.
CREATE INDEX executions_by_pipeline ON executions (pipeline, started_at DESC, id DESC);
-- Active executions (oldest first) and the per-status counts.
CREATE INDEX executions_by_status ON executions (status, started_at, id);

CREATE TABLE events (
    seq          INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    pipeline     TEXT    NOT NULL REFERENCES pipelines (name) ON DELETE CASCADE,
    execution_id TEXT,
    kind         TEXT    NOT NULL,
    body         TEXT    NOT NULL,
    at           TEXT    NOT NULL
) STRICT;

CREATE INDEX events_by_execution ON events (execution_id, seq);
-- Serves the cascade when a pipeline is deleted.
CREATE INDEX events_by_pipeline ON events (pipeline, seq);
