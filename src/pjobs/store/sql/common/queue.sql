-- Named queries of the job queue that both dialects share (:name parameters).
-- An optional filter is written `col = coalesce(:param, col)`: PostgreSQL cannot type a
-- bare `:param IS NULL` when the parameter is NULL, and coalesce gives it the column's.

-- name: claim_job
UPDATE jobs
SET state = 'running', attempts = attempts + 1, worker_id = :worker_id,
    started_at = :now, lease_expires_at = :lease_expires_at
WHERE id = :id AND state = 'queued'
RETURNING id, type, queue, CAST(payload AS TEXT) AS payload, attempts, max_attempts, priority,
          run_at, started_at, requested_by, time_limit;

-- name: renew_leases
UPDATE jobs SET lease_expires_at = :lease_expires_at
WHERE worker_id = :worker_id AND state = 'running';

-- name: beat_worker
-- A worker is alive (see renew_leases, in the same heartbeat).
INSERT INTO workers (id, started_at, seen_at) VALUES (:id, :now, :now)
ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at;

-- name: forget_workers
-- A worker that stops, and those not seen since a time (gone without saying so).
DELETE FROM workers WHERE id = :id OR seen_at < :before;

-- name: workers_seen
SELECT id, started_at, seen_at FROM workers WHERE seen_at >= :since ORDER BY started_at, id;

-- name: cancel_job
UPDATE jobs SET state = 'cancelled', finished_at = :now
WHERE id = :id AND state = 'queued'
RETURNING id;

-- name: retry_job
UPDATE jobs
SET state = 'queued', attempts = 0, rescues = 0, run_at = :now, finished_at = NULL,
    started_at = NULL, result = NULL
WHERE id = :id AND state IN ('failed', 'cancelled')
RETURNING id;

-- name: retryable
-- (a fragment) A job may be queued again unless another job holds its idempotency key.
(idempotency_key IS NULL OR NOT EXISTS (
    SELECT 1 FROM jobs AS active
    WHERE active.idempotency_key = jobs.idempotency_key
      AND active.state IN ('queued', 'running')))

-- name: retryable_jobs
-- Failed (or cancelled) jobs, of one type or all, finished since a time or ever; a job whose
-- idempotency key another job holds (queued or running) is left out.
SELECT id FROM jobs
WHERE state = :state AND type = coalesce(:type, type)
  AND finished_at >= coalesce(:since, finished_at)
  AND /*include retryable*/
ORDER BY id;

-- name: retry_jobs
UPDATE jobs
SET state = 'queued', attempts = 0, rescues = 0, run_at = :now, finished_at = NULL,
    started_at = NULL, result = NULL
WHERE id IN (
    SELECT id FROM jobs
    WHERE state = :state AND type = coalesce(:type, type)
      AND finished_at >= coalesce(:since, finished_at)
      AND /*include retryable*/
)
RETURNING id;

-- name: matching_jobs
-- A page of the jobs a filter (`job_filter`) matches, newest first, below an id (keyset).
SELECT * FROM jobs
WHERE /*include job_filter*/ AND id < coalesce(:before, 9223372036854775807)
ORDER BY id DESC
LIMIT :limit;

-- name: count_matching_jobs
-- How many jobs a filter matches (of a state the dashboard acts on: few, and indexed).
SELECT count(*) AS count FROM jobs WHERE /*include job_filter*/;

-- name: retry_matching_jobs
-- Queue again every failed or cancelled job a filter matches (see retry_jobs).
UPDATE jobs
SET state = 'queued', attempts = 0, rescues = 0, run_at = :now, finished_at = NULL,
    started_at = NULL, result = NULL
WHERE id IN (
    SELECT id FROM jobs
    WHERE /*include job_filter*/ AND state IN ('failed', 'cancelled') AND /*include retryable*/
)
RETURNING id;

-- name: cancel_matching_jobs
UPDATE jobs SET state = 'cancelled', finished_at = :now
WHERE id IN (SELECT id FROM jobs WHERE /*include job_filter*/ AND state = 'queued')
RETURNING id;

-- name: purge_jobs
DELETE FROM jobs
WHERE /*include finished*/ AND finished_at < :before;

-- name: count_purgeable
SELECT count(*) AS count FROM jobs
WHERE /*include finished*/ AND finished_at < :before;

-- name: get_job
SELECT * FROM jobs WHERE id = :id;

-- name: list_jobs
SELECT * FROM jobs
WHERE state = coalesce(:state, state)
  AND type = coalesce(:type, type)
  AND queue = coalesce(:queue, queue)
ORDER BY id DESC
LIMIT :limit OFFSET :offset;

-- name: job_attempts
-- Every attempt of a job in the order they ended: the rows of job_attempts, then the one
-- that succeeded, kept on the job's row (succeeded_by; a job that succeeded before that
-- was so has a row for it already).
SELECT attempt, worker_id, outcome, started_at, finished_at, error, traceback
FROM (
    SELECT id AS seq, attempt, worker_id, outcome, started_at, finished_at, error, traceback
    FROM job_attempts WHERE job_id = :id
    UNION ALL
    SELECT NULL, attempts, succeeded_by, 'succeeded', started_at, finished_at, NULL, NULL
    FROM jobs
    WHERE id = :id AND state = 'succeeded' AND NOT EXISTS (
        SELECT 1 FROM job_attempts AS a
        WHERE a.job_id = jobs.id AND a.outcome = 'succeeded')
) AS attempts
ORDER BY seq IS NULL, seq;

-- name: count_jobs_by_queue
-- The jobs by state, type and queue (`jobs stats` adds up the queues; `pjobs top` filters).
SELECT state, type, queue, count(*) AS count FROM jobs GROUP BY state, type, queue;

-- name: finished_since
-- Jobs that finished since a time, by state, type and queue (from jobs_finished).
SELECT state, type, queue, count(*) AS count FROM jobs
WHERE /*include finished*/ AND finished_at >= :since
GROUP BY state, type, queue;

-- name: running_workers
-- The workers running jobs now (one id a serve process or inline run).
SELECT count(DISTINCT worker_id) AS count FROM jobs WHERE state = 'running';

-- name: recent_failures
-- The jobs that failed for good most recently, newest first.
SELECT * FROM jobs
WHERE /*include finished*/  -- jobs_finished's own condition
  AND state = 'failed'
ORDER BY finished_at DESC
LIMIT :limit;

-- name: count_jobs_quickly
-- What a health check asks: that the jobs can be read at all.
SELECT 1 FROM jobs LIMIT 1;

-- name: oldest_due
SELECT min(run_at) AS oldest FROM jobs WHERE state = 'queued' AND run_at <= :now;

-- name: current_version
SELECT coalesce(max(version), 0) FROM schema_migrations;

-- name: record_migration
INSERT INTO schema_migrations (version, name, applied_at) VALUES (:version, :name, :now);

-- name: record_interrupted_attempt
-- An attempt the worker stopped before it ended (SIGTERM past the shutdown timeout, or a
-- time limit): it counts, and it is in the job's history.
INSERT INTO job_attempts (job_id, attempt, worker_id, outcome, started_at, finished_at, error)
SELECT id, attempts, worker_id, 'interrupted', started_at, :now, :error FROM jobs
WHERE id = :id AND worker_id = :worker_id AND state = 'running';

-- name: interrupt_job
UPDATE jobs
SET state = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END,
    finished_at = CASE WHEN attempts >= max_attempts THEN :now END,
    worker_id = NULL, lease_expires_at = NULL, last_error = :error
WHERE id = :id AND worker_id = :worker_id AND state = 'running';

-- name: cancel_interrupted_job
UPDATE jobs
SET state = 'cancelled', finished_at = :now, worker_id = NULL, lease_expires_at = NULL,
    last_error = :error
WHERE id = :id AND worker_id = :worker_id AND state = 'running';

-- name: savepoint_outcome
-- Outcomes recorded on a savepoint of their own: each of a batch whose writes failed, and
-- SQLite's acknowledgement (`SQLiteStore.acknowledge_on`), which may be undone and run
-- again. Nested, a savepoint of the same name is the most recent one (SQLite, PostgreSQL).
SAVEPOINT outcome;

-- name: rollback_to_outcome
ROLLBACK TO SAVEPOINT outcome;

-- name: release_outcome
RELEASE SAVEPOINT outcome;

-- name: set_reveal_to
UPDATE jobs SET reveal_to = :public_key WHERE id = :id;

-- name: reveal_to_of
SELECT reveal_to FROM jobs WHERE id = :id;

-- name: keep_reveal
INSERT INTO job_reveals (job_id, sealed) VALUES (:id, :sealed)
ON CONFLICT (job_id) DO UPDATE SET sealed = excluded.sealed;

-- name: take_reveal
DELETE FROM job_reveals WHERE job_id = :id RETURNING sealed;
