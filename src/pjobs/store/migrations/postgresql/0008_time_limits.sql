-- A job's own time limit in seconds (NULL: its type's, else worker.time_limit_seconds).
ALTER TABLE jobs ADD COLUMN time_limit double precision;

-- Attempts also end timed out (past their time limit) or interrupted (the worker stopped
-- before they ended).
ALTER TABLE job_attempts DROP CONSTRAINT job_attempts_outcome_check;
ALTER TABLE job_attempts ADD CONSTRAINT job_attempts_outcome_check
    CHECK (outcome IN ('succeeded', 'failed', 'lost', 'timed_out', 'interrupted'));
