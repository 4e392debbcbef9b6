-- Named queries of the job queue, SQLite dialect. Parameters: :name.
-- Writes run inside BEGIN IMMEDIATE, so the statements of one operation see no other writer.

-- name: last_job_id
SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'jobs'), 0),
           coalesce((SELECT max(id) FROM jobs), 0));

-- name: insert_jobs
-- The whole batch travels as one JSON array of rows: SQLite unpacks it in C, which is
-- several times faster than binding parameters row by row.
INSERT INTO jobs (id, type, queue, payload, priority, state, attempts, max_attempts, run_at,
                  created_at, started_at, worker_id, lease_expires_at, idempotency_key,
                  requested_by, time_limit)
SELECT :first + key,
       json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'),
       json_extract(value, '$[3]'), json_extract(value, '$[4]'), json_extract(value, '$[5]'),
       json_extract(value, '$[6]'), json_extract(value, '$[7]'), :now,
       json_extract(value, '$[8]'), json_extract(value, '$[9]'), json_extract(value, '$[10]'),
       json_extract(value, '$[11]'), json_extract(value, '$[12]'), json_extract(value, '$[13]')
FROM json_each(:rows)
WHERE true  -- makes the upsert clause below parse unambiguously after a SELECT
ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL AND state IN ('queued', 'running')
DO NOTHING;

-- name: insert_queued_jobs
-- The bulk path: plain queued jobs (no idempotency key, not claimed), six fields a row;
-- a batch shares who asked for it and its time limit.
INSERT INTO jobs (id, type, queue, payload, priority, state, attempts, max_attempts, run_at,
                  created_at, requested_by, time_limit)
SELECT :first + key,
       json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'),
       json_extract(value, '$[3]'), 'queued', 0, json_extract(value, '$[4]'),
       json_extract(value, '$[5]'), :now, :requested_by, :time_limit
FROM json_each(:rows);

-- name: inserted_job_ids
SELECT id FROM jobs WHERE id BETWEEN :first AND :last;

-- name: active_jobs_by_key
SELECT idempotency_key, id FROM jobs
WHERE idempotency_key IN (SELECT value FROM json_each(:keys)) AND state IN ('queued', 'running');

-- name: due_jobs
-- The jobs a claim takes, best first, in one row: a JSON array of their rows (the columns
-- of a ClaimedJob, the attempt the claim begins) and one of their ids. One row, not a row a
-- job: the sqlite3 module lets go of the interpreter's lock at each row, and a thread that
-- computes in Python (a handler) may keep it each time (see `SQLiteStore.claim_on`).
SELECT json_group_array(json_array(id, type, queue, payload, attempts + 1, max_attempts,
                                   priority, run_at, requested_by, time_limit)),
       json_group_array(id)
FROM (
    SELECT * FROM jobs
    WHERE state = 'queued' AND run_at <= :now
      AND (:queues IS NULL OR queue IN (SELECT value FROM json_each(:queues)))
    ORDER BY priority DESC, run_at, id
    LIMIT :limit
);

-- name: claim_jobs
-- The jobs of due_jobs (:ids, a JSON array), on the same transaction.
UPDATE jobs
SET state = 'running', attempts = attempts + 1, worker_id = :worker_id,
    started_at = :now, lease_expires_at = :lease_expires_at
WHERE id IN (SELECT value FROM json_each(:ids));

-- name: acknowledge_jobs
-- Acknowledge what this worker ran; a job whose lease it lost is left alone. :outcomes is a
-- JSON array of [id, state, attempt, started_at, finished_at, run_at, result, error,
-- traceback, history]; a late outcome of an attempt given up on (the job is on a later
-- attempt) is ignored. A deferred attempt (history 'deferred') is given back. A job that
-- succeeded keeps that attempt on its own row (succeeded_by, started_at, finished_at): no
-- attempts row is written for it (`job_attempts` reads it from there). Each field is read
-- from its outcome once (MATERIALIZED: else each use reads it again, a tenth of the time).
-- No RETURNING: a row a job, each would let go of the interpreter's lock (see
-- `SQLiteStore.acknowledge_on`).
WITH o AS MATERIALIZED (
    SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS state,
           json_extract(value, '$[2]') AS attempt, json_extract(value, '$[3]') AS started,
           json_extract(value, '$[4]') AS finished, json_extract(value, '$[5]') AS run_at,
           json_extract(value, '$[6]') AS result, json_extract(value, '$[7]') AS error,
           json_extract(value, '$[9]') IS 'deferred' AS deferred
    FROM json_each(:outcomes)
)
UPDATE jobs
SET state = o.state,
    attempts = jobs.attempts - o.deferred,
    started_at = CASE WHEN o.state = 'succeeded' THEN o.started ELSE jobs.started_at END,
    finished_at = CASE WHEN o.state = 'queued' THEN NULL ELSE o.finished END,
    run_at = coalesce(o.run_at, jobs.run_at),
    result = o.result,
    last_error = o.error,
    worker_id = NULL,
    succeeded_by = CASE WHEN o.state = 'succeeded' THEN jobs.worker_id END,
    lease_expires_at = NULL
FROM o
WHERE jobs.id = o.id AND jobs.worker_id = :worker_id
  AND jobs.state = 'running' AND jobs.attempts = o.attempt;

-- name: acknowledged_jobs
-- Those of :outcomes whose jobs this worker holds (as acknowledge_jobs matches them), as a
-- JSON array of ids: asked only when acknowledge_jobs changed fewer rows than it had
-- outcomes, after it is rolled back to its savepoint, before it runs again.
SELECT json_group_array(jobs.id)
FROM json_each(:outcomes) AS o JOIN jobs ON jobs.id = json_extract(o.value, '$[0]')
WHERE jobs.worker_id = :worker_id AND jobs.state = 'running'
  AND jobs.attempts = json_extract(o.value, '$[2]');

-- name: insert_acknowledged_attempts
-- The attempts of the outcomes just acknowledged (:acknowledged, a JSON array of their ids),
-- but deferred ones and successes (kept on the job's row).
INSERT INTO job_attempts (job_id, attempt, worker_id, outcome, started_at, finished_at, error,
                          traceback)
SELECT json_extract(value, '$[0]'), json_extract(value, '$[2]'), :worker_id,
       coalesce(json_extract(value, '$[9]'),
                CASE WHEN json_extract(value, '$[1]') = 'succeeded' THEN 'succeeded'
                     ELSE 'failed' END),
       json_extract(value, '$[3]'), json_extract(value, '$[4]'), json_extract(value, '$[7]'),
       json_extract(value, '$[8]')
FROM json_each(:outcomes)
WHERE json_extract(value, '$[0]') IN (SELECT value FROM json_each(:acknowledged))
  AND json_extract(value, '$[9]') IS NOT 'deferred'
  AND json_extract(value, '$[1]') IS NOT 'succeeded';

-- name: insert_attempts
-- :attempts is a JSON array of [job_id, attempt, worker_id, outcome, started_at,
-- finished_at, error, traceback].
INSERT INTO job_attempts (job_id, attempt, worker_id, outcome, started_at, finished_at, error,
                          traceback)
SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'),
       json_extract(value, '$[3]'), json_extract(value, '$[4]'), json_extract(value, '$[5]'),
       json_extract(value, '$[6]'), json_extract(value, '$[7]')
FROM json_each(:attempts);

-- name: release_job
UPDATE jobs
SET state = 'queued', attempts = attempts - 1, worker_id = NULL, lease_expires_at = NULL,
    started_at = NULL
WHERE id = :id AND worker_id = :worker_id AND state = 'running';

-- name: expired_jobs
-- Leases that expired before :expired_before (a margin before now), but those of :spare
-- (the sweeping worker's own: it is still running them).
SELECT id, worker_id, attempts, started_at, rescues >= :max_rescues
FROM jobs
WHERE state = 'running' AND lease_expires_at < :expired_before AND worker_id IS NOT :spare;

-- name: rescue_job
-- A job whose worker stopped renewing its lease runs again; the lost attempt does not count
-- against max_attempts, but a job that loses its worker more than max_rescues times fails.
UPDATE jobs
SET state = CASE WHEN :exhausted THEN 'failed' ELSE 'queued' END,
    attempts = CASE WHEN :exhausted THEN attempts ELSE attempts - 1 END,
    finished_at = CASE WHEN :exhausted THEN :now END,
    rescues = rescues + 1,
    worker_id = NULL,
    lease_expires_at = NULL,
    last_error = :error
WHERE id = :id AND state = 'running';

-- name: migrations_table_exists
SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations';

-- name: other_tables
-- Tables of a database pjobs has not yet made its own (a few, to name them).
SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name LIMIT 5;

-- name: create_migrations_table
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL
);

-- name: jobs_of_project
-- The jobs whose payload names a project, newest first (index jobs_project).
SELECT * FROM jobs WHERE json_extract(payload, '$.project_id') = :project_id
ORDER BY id DESC LIMIT :limit OFFSET :offset;

-- name: finished
-- (a fragment) A job that finished: the condition of the index jobs_finished, word for word
-- (SQLite reads a partial index only for a query that names its condition as it is written).
-- Comparisons, not IN: see migration 0022.
state = 'succeeded' OR state = 'failed' OR state = 'cancelled'

-- name: job_filter
-- (a fragment) The dashboard's filter of jobs: each part that is given (state, type, queue,
-- the project a payload names, enqueued since a time).
state = coalesce(:state, state) AND type = coalesce(:type, type)
AND queue = coalesce(:queue, queue)
AND (:project IS NULL OR json_extract(payload, '$.project_id') = :project)
AND created_at >= coalesce(:since, created_at)

-- name: finished_by_bucket
-- Jobs that finished since a time, by state and bucket of `bucket` seconds since the epoch.
SELECT CAST(strftime('%s', substr(finished_at, 1, 19)) AS INTEGER) / :bucket AS bucket, state,
       count(*) AS count
FROM jobs
WHERE /*include finished*/ AND finished_at >= :since
GROUP BY 1, 2;
