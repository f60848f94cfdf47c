-- Source revisions a pipeline has seen: per source action and ref, every revision that
-- started an execution (`execution_id` set) or was only recorded as the starting point
-- (when the pipeline was applied, or on the first poll). A row is written in the same
-- transaction as the execution it started, so no revision can start two executions, not
-- even across a crash. `seq` orders the rows of one ref: the newest is its last seen head.

CREATE TABLE source_revisions (
    seq          INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    pipeline     TEXT    NOT NULL REFERENCES pipelines (name) ON DELETE CASCADE,
    source       TEXT    NOT NULL,
    git_ref      TEXT    NOT NULL,
    revision     TEXT    NOT NULL,
    execution_id TEXT,
    seen_at      TEXT    NOT NULL,
    UNIQUE (pipeline, source, git_ref, revision)
) STRICT;
