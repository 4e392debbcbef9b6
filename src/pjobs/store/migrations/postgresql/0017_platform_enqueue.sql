-- The platform enqueues too: pjobs_enqueue(), callable from any client in its own
-- transaction (a job exists if and only if the caller commits), by a role granted nothing
-- but EXECUTE on it (README: "Enqueue from your platform").

-- The job types the deployed pjobs runs, with the defaults a job of each gets (recorded by
-- `pjobs db upgrade` and by every `pjobs serve` as it starts; never removed).
CREATE TABLE job_types (
    name text PRIMARY KEY,
    queue text NOT NULL,
    max_attempts integer NOT NULL,
    recorded_at timestamptz NOT NULL
);

-- Checks what SQL can (the type is known, the options are in range); the payload's own
-- model is checked when the job is claimed (an invalid one fails at once, for good, its
-- field named). An idempotency key held by a queued or running job yields that job's id.
-- Workers are woken (NOTIFY) when the caller commits.
CREATE FUNCTION pjobs_enqueue(
    job_type text,
    payload jsonb,
    queue text DEFAULT NULL,
    run_at timestamptz DEFAULT NULL,
    max_attempts integer DEFAULT NULL,
    priority integer DEFAULT NULL,
    idempotency_key text DEFAULT NULL
) RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
#variable_conflict use_column
DECLARE
    known job_types%ROWTYPE;
    made bigint;
BEGIN
    SELECT * INTO known FROM job_types AS t WHERE t.name = pjobs_enqueue.job_type;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown job type %', quote_literal(coalesce(pjobs_enqueue.job_type, ''))
            USING ERRCODE = '22023',
                  HINT = 'the job types this pjobs runs are in the job_types table';
    END IF;
    -- an object; or a string, the seed's payload of a rotation (the key's id alone)
    IF jsonb_typeof(pjobs_enqueue.payload) NOT IN ('object', 'string') THEN
        RAISE EXCEPTION 'invalid payload for %: expected a JSON object', pjobs_enqueue.job_type
            USING ERRCODE = '22023';
    END IF;
    IF pjobs_enqueue.max_attempts IS NOT NULL
       AND pjobs_enqueue.max_attempts NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION 'max attempts must be 1 to 1000, not %', pjobs_enqueue.max_attempts
            USING ERRCODE = '22023';
    END IF;
    IF pjobs_enqueue.priority IS NOT NULL
       AND pjobs_enqueue.priority NOT BETWEEN -1000000 AND 1000000 THEN
        RAISE EXCEPTION 'priority must be within ±1000000' USING ERRCODE = '22023';
    END IF;
    IF pjobs_enqueue.idempotency_key IS NOT NULL
       AND length(pjobs_enqueue.idempotency_key) NOT BETWEEN 1 AND 200 THEN
        RAISE EXCEPTION 'idempotency key must be 1 to 200 characters' USING ERRCODE = '22023';
    END IF;
    LOOP
        INSERT INTO jobs (type, queue, payload, priority, state, max_attempts, run_at,
                          created_at, idempotency_key, requested_by)
        VALUES (pjobs_enqueue.job_type, coalesce(pjobs_enqueue.queue, known.queue),
                pjobs_enqueue.payload, coalesce(pjobs_enqueue.priority, 0), 'queued',
                coalesce(pjobs_enqueue.max_attempts, known.max_attempts),
                coalesce(pjobs_enqueue.run_at, clock_timestamp()), clock_timestamp(),
                pjobs_enqueue.idempotency_key,
                'sql:' || left(regexp_replace(session_user, '[^A-Za-z0-9_.@+-]', '_', 'g'), 120))
        ON CONFLICT (idempotency_key)
            WHERE idempotency_key IS NOT NULL AND state IN ('queued', 'running')
        DO NOTHING
        RETURNING id INTO made;
        IF made IS NOT NULL THEN
            PERFORM pg_notify('pjobs_jobs', '');
            RETURN made;
        END IF;
        SELECT j.id INTO made FROM jobs AS j
        WHERE j.idempotency_key = pjobs_enqueue.idempotency_key
          AND j.state IN ('queued', 'running');
        IF made IS NOT NULL THEN
            RETURN made;
        END IF;
        -- the job holding the key finished meanwhile: the key is free again
    END LOOP;
END
$$;

-- A definer's function runs with this schema's tables only (never a caller's look-alikes),
-- and only the roles it is granted to may call it.
DO $$
BEGIN
    EXECUTE format(
        'ALTER FUNCTION pjobs_enqueue(text, jsonb, text, timestamptz, integer, integer, text) '
        'SET search_path = %I, pg_temp', current_schema());
END
$$;
REVOKE ALL ON FUNCTION pjobs_enqueue(text, jsonb, text, timestamptz, integer, integer, text)
    FROM PUBLIC;
