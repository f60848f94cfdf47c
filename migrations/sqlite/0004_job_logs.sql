-- What job workers stream as an action's log: chunks in order per job, each placed at
-- the byte offset the worker says, so a chunk resent after a lost answer is stored once.
-- The log of an action run is the chunks of all its jobs (continuations included).

CREATE TABLE job_logs (
    seq    INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    job_id TEXT    NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    run_id TEXT    NOT NULL,
    bytes  INTEGER NOT NULL,
    text   TEXT    NOT NULL
) STRICT;

CREATE INDEX job_logs_by_job ON job_logs (job_id, seq);
CREATE INDEX job_logs_by_run ON job_logs (run_id, seq);
