-- Webhook queries whose SQL is PostgreSQL's own (array parameters).

-- name: enabled_endpoints_of_projects
SELECT * FROM webhook_endpoints WHERE enabled AND project_id = ANY(%(ids)s::text[])
ORDER BY project_id, id;

-- name: delivery_attempted
-- An attempt recorded and the delivery's state after it, in one statement.
WITH attempt AS (
    INSERT INTO webhook_attempts (delivery_id, attempt, at, status, latency_ms, error, response)
    VALUES (%(id)s, %(attempt)s, %(now)s, %(status)s, %(latency_ms)s, %(error)s, %(response)s)
)
UPDATE webhook_deliveries
SET state = %(state)s, attempts = attempts + 1, next_attempt_at = %(next_attempt_at)s,
    finished_at = CASE WHEN %(state)s = 'pending' THEN NULL ELSE %(now)s END,
    last_status = %(status)s, last_error = %(error)s
WHERE id = %(id)s;
