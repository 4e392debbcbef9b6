-- Named queries of the job queue, PostgreSQL dialect. Parameters: %(name)s.

-- name: reserve_job_ids
-- The sequence is looked up once (OFFSET 0 keeps the planner from writing the lookup into
-- every row, where it cost 3 µs an id, eight times the nextval itself).
SELECT nextval(s.seq)
FROM (SELECT pg_get_serial_sequence('jobs', 'id')::regclass AS seq OFFSET 0) AS s,
     generate_series(1, %(count)s);

-- name: insert_jobs
INSERT INTO jobs (id, type, queue, payload, priority, state, attempts, max_attempts, run_at,
                  created_at, started_at, worker_id, lease_expires_at, idempotency_key,
                  requested_by, time_limit)
SELECT n.id, n.type, n.queue, n.payload::jsonb, n.priority, n.state, n.attempts, n.max_attempts,
       n.run_at, %(now)s, n.started_at, n.worker_id, n.lease_expires_at, n.idempotency_key,
       n.requested_by, n.time_limit
FROM unnest(%(ids)s::bigint[], %(types)s::text[], %(queues)s::text[], %(payloads)s::text[],
            %(priorities)s::int[], %(states)s::text[], %(attempts)s::int[],
            %(max_attempts)s::int[], %(run_ats)s::timestamptz[], %(started_ats)s::timestamptz[],
            %(worker_ids)s::text[], %(leases)s::timestamptz[], %(keys)s::text[],
            %(requested_bys)s::text[], %(time_limits)s::float8[])
     AS n(id, type, queue, payload, priority, state, attempts, max_attempts, run_at, started_at,
          worker_id, lease_expires_at, idempotency_key, requested_by, time_limit)
ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL AND state IN ('queued', 'running')
DO NOTHING
RETURNING id;

-- name: insert_queued_job
-- One plain queued job on a transaction of its own, in one statement (autocommit): one
-- round trip from the enqueuer's now to a worker's wake-up, not six (BEGIN, ids, COPY,
-- NOTIFY, COMMIT). The wake-up is delivered when the statement commits.
WITH inserted AS (
    INSERT INTO jobs (type, queue, payload, priority, state, max_attempts, run_at, created_at,
                      requested_by, time_limit)
    VALUES (%(type)s, %(queue)s, %(payload)s::jsonb, %(priority)s, 'queued', %(max_attempts)s,
            %(run_at)s, %(now)s, %(requested_by)s, %(time_limit)s)
    RETURNING id
), woken AS (
    SELECT pg_notify('pjobs_jobs', '')
)
SELECT id FROM inserted, woken;

-- name: copy_jobs
-- The bulk path: plain queued jobs; the columns left out keep their defaults (NULL, 0).
COPY jobs (id, type, queue, payload, priority, state, max_attempts, run_at, created_at,
           requested_by, time_limit)
FROM STDIN;

-- name: active_jobs_by_key
SELECT idempotency_key, id FROM jobs
WHERE idempotency_key = ANY(%(keys)s::text[]) AND state IN ('queued', 'running');

-- name: notify_jobs
SELECT pg_notify('pjobs_jobs', '');

-- name: listen_jobs
LISTEN pjobs_jobs;

-- name: listen_events
LISTEN pjobs_events;

-- name: claim_settings
-- Before claim_jobs, on its transaction (each setting for this transaction only). Read the
-- due jobs in order from jobs_due and stop at the limit, whatever the statistics say.
-- Statistics taken before a burst of jobs (or while nearly every row was finished) make
-- the planner expect a handful of queued rows and read and sort them all instead: every
-- queued row, each turn, spilling to disk. No JIT: the claimed rows' sort, which has no
-- other way, then costs more than JIT's threshold, and compiling took 95 ms of a 100 ms
-- claim. Commit without waiting for the claim to reach the disk: on an idle server that
-- wait was 1 ms of the 1.2 ms from an idle worker's wake-up to its job's start. A claim
-- the server loses in a crash (its last fraction of a second) leaves the job queued, and
-- it runs again, as a crashed worker's job does: at least once, never lost. An enqueue and
-- an outcome still wait for the disk.
SELECT set_config('enable_sort', 'off', true), set_config('jit', 'off', true),
       set_config('synchronous_commit', 'off', true);

-- name: claim_jobs
-- The claimed jobs best first, each row a `ClaimedJob` as it is (its fields in order; the
-- payload as text, which its type's model reads itself: no JSON decoded here).
WITH claimed AS (
    UPDATE jobs
    SET state = 'running', attempts = attempts + 1, worker_id = %(worker_id)s,
        started_at = %(now)s, lease_expires_at = %(lease_expires_at)s
    WHERE id = ANY(ARRAY(
        SELECT id FROM jobs
        WHERE state = 'queued' AND run_at <= %(now)s
          AND (%(queues)s::text[] IS NULL OR queue = ANY(%(queues)s::text[]))
        ORDER BY priority DESC, run_at, id
        LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED
    ))
    RETURNING id, type, queue, payload::text, attempts, max_attempts, priority, run_at,
              started_at, requested_by, time_limit
)
SELECT * FROM claimed ORDER BY priority DESC, run_at, id;

-- name: acknowledge_jobs
-- Acknowledge what this worker ran; a job whose lease it lost is left alone. :outcomes is a
-- JSON object: by job id, [id, state, attempt, started_at, finished_at, run_at, result,
-- error, traceback, history] (one parameter: far less to encode than an array a column).
-- Each job looks its outcome up by its id: no join of the outcomes with the running jobs,
-- which the planner makes a comparison of every pair when its statistics say that no job
-- is running (they were taken at a quiet moment), 0.3 s for a turn of 1,000. Looked up
-- once and each field read once (OFFSET 0 keeps the planner from writing the lookup out
-- again at every use: 14 lookups a job, a fifth of the statement's time).
-- A deferred attempt (history 'deferred') is given back, and not recorded. A job that
-- succeeded keeps that attempt on its own row (succeeded_by, started_at, finished_at): no
-- attempts row for it, and no foreign-key check (`job_attempts` reads it from there).
WITH given AS (
    SELECT %(outcomes)s::jsonb AS outcomes
), acknowledged AS (
    UPDATE jobs AS j
    SET (state, attempts, started_at, finished_at, run_at, result, last_error, worker_id,
         succeeded_by, lease_expires_at) = (
        SELECT x.state, j.attempts - x.deferred::int,
               CASE WHEN x.state = 'succeeded' THEN x.started ELSE j.started_at END,
               CASE WHEN x.state = 'queued' THEN NULL ELSE x.finished END,
               coalesce(x.run_at, j.run_at), x.result, x.error, NULL,
               CASE WHEN x.state = 'succeeded' THEN j.worker_id END, NULL::timestamptz
        FROM (SELECT o->>1 AS state, o->>9 IS NOT DISTINCT FROM 'deferred' AS deferred,
                     (o->>3)::timestamptz AS started, (o->>4)::timestamptz AS finished,
                     (o->>5)::timestamptz AS run_at, (o->>6)::jsonb AS result, o->>7 AS error
              FROM (SELECT (SELECT outcomes FROM given) -> j.id::text AS o OFFSET 0) AS outcome
              OFFSET 0) AS x
    )
    -- :ids is a comma-separated string: psycopg dumps a list of ints in Python, an int
    -- at a time, a quarter of the worker's loop on a turn of 1,000
    WHERE j.id = ANY(string_to_array(%(ids)s, ',')::bigint[]) AND j.worker_id = %(worker_id)s
      AND j.state = 'running'
      -- a late outcome of an attempt given up on is ignored
      AND j.attempts = ((SELECT outcomes FROM given) -> j.id::text ->> 2)::int
    RETURNING j.id, (SELECT outcomes FROM given) -> j.id::text AS o
), recorded AS (
    INSERT INTO job_attempts (job_id, attempt, worker_id, outcome, started_at, finished_at,
                              error, traceback)
    SELECT id, (o->>2)::int, %(worker_id)s,
           coalesce(o->>9, CASE WHEN o->>1 = 'succeeded' THEN 'succeeded' ELSE 'failed' END),
           (o->>3)::timestamptz, (o->>4)::timestamptz, o->>7, o->>8
    FROM acknowledged
    WHERE o->>9 IS DISTINCT FROM 'deferred' AND o->>1 <> 'succeeded'
)
SELECT id FROM acknowledged;

-- name: jobs_statistics_stale
-- Whether the jobs changed by more than a tenth (and 1,000 rows) since their statistics
-- were taken: a burst of jobs the planner would think a handful of rows.
SELECT s.n_mod_since_analyze > 1000 + 0.1 * greatest(c.reltuples, 0)
FROM pg_stat_user_tables AS s JOIN pg_class AS c ON c.oid = s.relid
WHERE s.relid = 'jobs'::regclass;

-- name: analyze_jobs
-- On a sample of 3,000 rows (statistics target 10, PostgreSQL's default is 100): what the
-- queue's plans need of the jobs (a handful of states, queues and types, and how many of
-- each) at a tenth of the cost, 14 ms instead of 150 ms on a million jobs, taken from the
-- server's CPU while workers drain. For this transaction only: autovacuum keeps its own.
SELECT set_config('default_statistics_target', '10', true);
ANALYZE jobs;

-- name: record_job_types
-- The job types this pjobs runs, and their defaults, for pjobs_enqueue (migration 0017).
INSERT INTO job_types (name, queue, max_attempts, recorded_at)
SELECT * FROM unnest(%(names)s::text[], %(queues)s::text[], %(attempts)s::int[]),
       (VALUES (%(now)s::timestamptz)) AS at(now)
ON CONFLICT (name) DO UPDATE
SET queue = excluded.queue, max_attempts = excluded.max_attempts,
    recorded_at = excluded.recorded_at;

-- name: jobs_dead_rows_many
-- Whether the jobs' dead rows outnumber a twentieth of them, and 10,000.
SELECT s.n_dead_tup > 10000 + 0.05 * greatest(c.reltuples, 0)
FROM pg_stat_user_tables AS s JOIN pg_class AS c ON c.oid = s.relid
WHERE s.relid = 'jobs'::regclass;

-- name: vacuum_jobs
VACUUM (SKIP_LOCKED) jobs;

-- name: release_jobs
UPDATE jobs
SET state = 'queued', attempts = attempts - 1, worker_id = NULL, lease_expires_at = NULL,
    started_at = NULL
WHERE id = ANY(%(ids)s::bigint[]) AND worker_id = %(worker_id)s AND state = 'running';

-- name: rescue_expired
-- A job whose worker stopped renewing its lease runs again; the lost attempt does not count
-- against max_attempts, but a job that loses its worker more than max_rescues times fails.
-- Leases that expired before expired_before (a margin before now), but those of spare (the
-- sweeping worker's own: it is still running them).
WITH expired AS (
    SELECT id, worker_id, attempts, started_at, rescues >= %(max_rescues)s AS exhausted
    FROM jobs
    WHERE state = 'running' AND lease_expires_at < %(expired_before)s
      AND worker_id IS DISTINCT FROM %(spare)s::text
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

-- name: migrations_table_exists
SELECT to_regclass('schema_migrations') IS NOT NULL;

-- name: other_tables
-- Tables of a database pjobs has not yet made its own (a few, to name them).
SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename LIMIT 5;

-- name: create_migrations_table
CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL
);

-- name: lock_migrations
SELECT pg_advisory_xact_lock(7235004113);

-- name: jobs_of_project
-- The jobs whose payload names a project, newest first (index jobs_project).
SELECT * FROM jobs WHERE payload ? 'project_id' AND payload->>'project_id' = %(project_id)s
ORDER BY id DESC LIMIT %(limit)s OFFSET %(offset)s;

-- name: finished
-- (a fragment) A job that finished: the condition of the index jobs_finished.
state IN ('succeeded', 'failed', 'cancelled')

-- name: job_filter
-- (a fragment) The dashboard's filter of jobs: each part that is given (state, type, queue,
-- the project a payload names, enqueued since a time). Written `(p IS NULL OR …)`: planned
-- with the values given, a part not given folds away (`state = coalesce(NULL, state)`
-- would not, and its estimate of one row chooses a scan of the whole table).
(%(state)s::text IS NULL OR state = %(state)s) AND (%(type)s::text IS NULL OR type = %(type)s)
AND (%(queue)s::text IS NULL OR queue = %(queue)s)
AND (%(project)s::text IS NULL OR payload ? 'project_id' AND payload->>'project_id' = %(project)s)
AND (%(since)s::timestamptz IS NULL OR created_at >= %(since)s)

-- name: finished_by_bucket
-- Jobs that finished since a time, by state and bucket of `bucket` seconds since the epoch.
SELECT floor(extract(epoch FROM finished_at) / %(bucket)s)::bigint AS bucket, state,
       count(*) AS count
FROM jobs
WHERE /*include finished*/ AND finished_at >= %(since)s
GROUP BY 1, 2;
