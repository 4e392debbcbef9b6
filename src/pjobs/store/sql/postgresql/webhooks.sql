-- Webhook queries whose SQL is PostgreSQL's own (array parameters).

-- name: get_deliveries_to_send
-- Deliveries and their endpoints in one statement (the endpoint's columns prefixed "e.").
SELECT d.*, e.id AS "e.id", e.project_id AS "e.project_id", e.url AS "e.url",
       e.events AS "e.events", e.description AS "e.description", e.secret AS "e.secret",
       e.previous_secret AS "e.previous_secret",
       e.previous_secret_expires_at AS "e.previous_secret_expires_at",
       e.enabled AS "e.enabled", e.disabled_reason AS "e.disabled_reason",
       e.consecutive_failures AS "e.consecutive_failures", e.created_at AS "e.created_at",
       e.updated_at AS "e.updated_at"
FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
WHERE d.id = ANY(%(ids)s::text[]);

-- name: enabled_endpoints_of_projects
SELECT * FROM webhook_endpoints WHERE enabled AND project_id = ANY(%(ids)s::text[])
ORDER BY project_id, id;

-- name: deliveries_attempted
-- Attempts recorded, and their deliveries' states after them, in one statement. :rows is a
-- JSON array of {id, attempt, at, state, next_attempt_at, status, latency_ms, error,
-- response}, an attempt each. The deliveries are found by their ids (`= ANY`), not by a
-- join the planner may make a scan of every delivery: it cannot know how few rows the
-- JSON holds.
WITH attempt AS (
    SELECT * FROM json_to_recordset(%(rows)s::json)
        AS a(id text, attempt integer, at timestamptz, state text, next_attempt_at timestamptz,
             status integer, latency_ms double precision, error text, response text)
), recorded AS (
    INSERT INTO webhook_attempts (delivery_id, attempt, at, status, latency_ms, error, response)
    SELECT id, attempt, at, status, latency_ms, error, response FROM attempt
)
UPDATE webhook_deliveries AS d
SET state = a.state, attempts = d.attempts + 1, next_attempt_at = a.next_attempt_at,
    finished_at = CASE WHEN a.state = 'pending' THEN NULL ELSE a.at END,
    last_status = a.status, last_error = a.error
FROM attempt AS a
WHERE d.id = ANY(ARRAY(SELECT id FROM attempt)) AND d.id = a.id;
