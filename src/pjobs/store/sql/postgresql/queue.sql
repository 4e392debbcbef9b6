-- Named queries of the job queue, PostgreSQL dialect. Parameters: %(name)s.

-- name: reserve_job_ids
SELECT nextval(pg_get_serial_sequence('jobs', 'id')) FROM generate_series(1, %(count)s);

-- name: insert_jobs
INSERT INTO jobs (id, type, queue, payload, priority, state, attempts, max_attempts, run_at,
                  created_at, started_at, worker_id, lease_expires_at, idempotency_key)
SELECT n.id, n.type, n.queue, n.payload::jsonb, n.priority, n.state, n.attempts, n.max_attempts,
       n.run_at, %(now)s, n.started_at, n.worker_id, n.lease_expires_at, n.idempotency_key
FROM unnest(%(ids)s::bigint[], %(types)s::text[], %(queues)s::text[], %(payloads)s::text[],
            %(priorities)s::int[], %(states)s::text[], %(attempts)s::int[],
            %(max_attempts)s::int[], %(run_ats)s::timestamptz[], %(started_ats)s::timestamptz[],
            %(worker_ids)s::text[], %(leases)s::timestamptz[], %(keys)s::text[])
     AS n(id, type, queue, payload, priority, state, attempts, max_attempts, run_at, started_at,
          worker_id, lease_expires_at, idempotency_key)
ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL AND state IN ('queued', 'running')
DO NOTHING
RETURNING id;

-- name: copy_jobs
-- The bulk path: plain queued jobs; the columns left out keep their defaults (NULL, 0).
COPY jobs (id, type, queue, payload, priority, state, max_attempts, run_at, created_at)
FROM STDIN;

-- name: active_jobs_by_key
SELECT idempotency_key, id FROM jobs
WHERE idempotency_key = ANY(%(keys)s::text[]) AND state IN ('queued', 'running');

-- name: notify_jobs
SELECT pg_notify('pjobs_jobs', '');

-- name: listen_jobs
LISTEN pjobs_jobs;

-- name: claim_jobs
UPDATE jobs
SET state = 'running', attempts = attempts + 1, worker_id = %(worker_id)s,
    started_at = %(now)s, lease_expires_at = %(lease_expires_at)s
WHERE id IN (
    SELECT id FROM jobs
    WHERE state = 'queued' AND run_at <= %(now)s
      AND (%(queues)s::text[] IS NULL OR queue = ANY(%(queues)s::text[]))
    ORDER BY priority DESC, run_at, id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
RETURNING id, type, queue, payload, attempts, max_attempts, priority, run_at, started_at;

-- name: claim_job
UPDATE jobs
SET state = 'running', attempts = attempts + 1, worker_id = %(worker_id)s,
    started_at = %(now)s, lease_expires_at = %(lease_expires_at)s
WHERE id = %(id)s AND state = 'queued'
RETURNING id, type, queue, payload, attempts, max_attempts, priority, run_at, started_at;

-- name: finish_jobs
-- Acknowledge what this worker ran; a job whose lease it lost is left alone.
WITH outcome AS (
    SELECT * FROM unnest(%(ids)s::bigint[], %(states)s::text[], %(attempts)s::int[],
                         %(started_ats)s::timestamptz[], %(finished_ats)s::timestamptz[],
                         %(run_ats)s::timestamptz[], %(results)s::text[], %(errors)s::text[],
                         %(tracebacks)s::text[])
        AS o(id, state, attempt, started_at, finished_at, run_at, result, error, traceback)
), acknowledged AS (
    UPDATE jobs AS j
    SET state = o.state,
        finished_at = CASE WHEN o.state = 'queued' THEN NULL ELSE o.finished_at END,
        run_at = coalesce(o.run_at, j.run_at),
        result = o.result::jsonb,
        last_error = o.error,
        worker_id = NULL,
        lease_expires_at = NULL
    FROM outcome AS o
    WHERE j.id = o.id AND j.worker_id = %(worker_id)s AND j.state = 'running'
    RETURNING j.id
)
INSERT INTO job_attempts (job_id, attempt, worker_id, outcome, started_at, finished_at, error,
                          traceback)
SELECT o.id, o.attempt, %(worker_id)s,
       CASE WHEN o.state = 'succeeded' THEN 'succeeded' ELSE 'failed' END,
       o.started_at, o.finished_at, o.error, o.traceback
FROM outcome AS o JOIN acknowledged AS a ON a.id = o.id
RETURNING job_id;

-- name: renew_leases
UPDATE jobs SET lease_expires_at = %(lease_expires_at)s
WHERE worker_id = %(worker_id)s AND state = 'running';

-- name: release_jobs
UPDATE jobs
SET state = 'queued', attempts = attempts - 1, worker_id = NULL, lease_expires_at = NULL,
    started_at = NULL
WHERE id = ANY(%(ids)s::bigint[]) AND worker_id = %(worker_id)s AND state = 'running';

-- name: rescue_expired
-- A job whose worker stopped renewing its lease runs again; the lost attempt does not count
-- against max_attempts, but a job that loses its worker more than max_rescues times fails.
WITH expired AS (
    SELECT id, worker_id, attempts, started_at, rescues >= %(max_rescues)s AS exhausted
    FROM jobs
    WHERE state = 'running' AND lease_expires_at < %(now)s
    FOR UPDATE SKIP LOCKED
), moved AS (
    UPDATE jobs AS j
    SET state = CASE WHEN e.exhausted THEN 'failed' ELSE 'queued' END,
        attempts = CASE WHEN e.exhausted THEN j.attempts ELSE j.attempts - 1 END,
        finished_at = CASE WHEN e.exhausted THEN %(now)s END,
        rescues = j.rescues + 1,
        worker_id = NULL,
        lease_expires_at = NULL,
        last_error = 'worker ' || coalesce(e.worker_id, '?') || ' lost its lease'
    FROM expired AS e
    WHERE j.id = e.id
    RETURNING j.id
)
INSERT INTO job_attempts (job_id, attempt, worker_id, outcome, started_at, finished_at, error)
SELECT e.id, e.attempts, e.worker_id, 'lost', e.started_at, %(now)s,
       'worker ' || coalesce(e.worker_id, '?') || ' lost its lease (crashed or stalled)'
FROM expired AS e JOIN moved AS m ON m.id = e.id
RETURNING job_id;

-- name: cancel_job
UPDATE jobs SET state = 'cancelled', finished_at = %(now)s
WHERE id = %(id)s AND state = 'queued'
RETURNING id;

-- name: retry_job
UPDATE jobs
SET state = 'queued', attempts = 0, rescues = 0, run_at = %(now)s, finished_at = NULL,
    started_at = NULL, result = NULL
WHERE id = %(id)s AND state IN ('failed', 'cancelled')
RETURNING id;

-- name: purge_jobs
DELETE FROM jobs
WHERE state IN ('succeeded', 'failed', 'cancelled') AND finished_at < %(before)s;

-- name: count_purgeable
SELECT count(*) FROM jobs
WHERE state IN ('succeeded', 'failed', 'cancelled') AND finished_at < %(before)s;

-- name: get_job
SELECT id, type, queue, payload, priority, state, attempts, max_attempts, rescues, run_at,
       created_at, started_at, finished_at, worker_id, lease_expires_at, idempotency_key,
       result, last_error
FROM jobs WHERE id = %(id)s;

-- name: list_jobs
SELECT id, type, queue, payload, priority, state, attempts, max_attempts, rescues, run_at,
       created_at, started_at, finished_at, worker_id, lease_expires_at, idempotency_key,
       result, last_error
FROM jobs
WHERE (%(state)s::text IS NULL OR state = %(state)s::text)
  AND (%(type)s::text IS NULL OR type = %(type)s::text)
  AND (%(queue)s::text IS NULL OR queue = %(queue)s::text)
ORDER BY id DESC
LIMIT %(limit)s;

-- name: job_attempts
SELECT attempt, worker_id, outcome, started_at, finished_at, error, traceback
FROM job_attempts WHERE job_id = %(id)s ORDER BY id;

-- name: count_jobs
SELECT state, type, count(*) FROM jobs GROUP BY state, type ORDER BY state, type;

-- name: oldest_due
SELECT min(run_at) FROM jobs WHERE state = 'queued' AND run_at <= %(now)s;

-- name: migrations_table_exists
SELECT to_regclass('schema_migrations') IS NOT NULL;

-- name: create_migrations_table
CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL
);

-- name: lock_migrations
SELECT pg_advisory_xact_lock(7235004113);

-- name: current_version
SELECT coalesce(max(version), 0) FROM schema_migrations;

-- name: record_migration
INSERT INTO schema_migrations (version, name, applied_at) VALUES (%(version)s, %(name)s, %(now)s);
