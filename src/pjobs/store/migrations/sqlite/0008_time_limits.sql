-- A job's own time limit in seconds (NULL: its type's, else worker.time_limit_seconds).
ALTER TABLE jobs ADD COLUMN time_limit REAL;

-- Attempts also end timed out (past their time limit) or interrupted (the worker stopped
-- before they ended). SQLite cannot change a CHECK: the table is made again.
CREATE TABLE job_attempts_new (
    id INTEGER PRIMARY KEY,
    job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    worker_id TEXT,
    outcome TEXT NOT NULL
        CHECK (outcome IN ('succeeded', 'failed', 'lost', 'timed_out', 'interrupted')),
    started_at TEXT,
    finished_at TEXT NOT NULL,
    error TEXT,
    traceback TEXT
);
INSERT INTO job_attempts_new SELECT * FROM job_attempts;
DROP TABLE job_attempts;
ALTER TABLE job_attempts_new RENAME TO job_attempts;
CREATE INDEX job_attempts_job ON job_attempts (job_id);
