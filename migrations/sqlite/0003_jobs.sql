-- Custom action types registered through the API (those in the daemon config are not
-- stored), and the jobs that job workers poll for.
--
-- A job is one call of a worker for one action run: `Queued` until a poll hands it out
-- (`Dispatched`, with a fresh nonce), `InProgress` once the worker acknowledges it with
-- that nonce, then `Succeeded` or `Failed` with the worker's result, or `Cancelled` when
-- the run stopped counting. A result with a continuation token ends the job and queues
-- the next one for the same run in the same transaction. `seq` orders the jobs of a run
-- (the newest is its current one) and the queue (oldest first).

CREATE TABLE action_types (
    category   TEXT NOT NULL,
    provider   TEXT NOT NULL,
    version    TEXT NOT NULL,
    definition TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (category, provider, version)
) STRICT;

CREATE TABLE jobs (
    seq             INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    id              TEXT    NOT NULL UNIQUE,
    run_id          TEXT    NOT NULL,
    category        TEXT    NOT NULL,
    provider        TEXT    NOT NULL,
    version         TEXT    NOT NULL,
    pipeline        TEXT    NOT NULL REFERENCES pipelines (name) ON DELETE CASCADE,
    execution_id    TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    nonce           TEXT,
    data            TEXT    NOT NULL,
    result          TEXT,
    worker          TEXT,
    created_at      TEXT    NOT NULL,
    dispatched_at   TEXT,
    acknowledged_at TEXT,
    finished_at     TEXT
) STRICT;

CREATE INDEX jobs_by_run ON jobs (run_id, seq);
CREATE INDEX jobs_by_queue ON jobs (category, provider, version, state, seq);
