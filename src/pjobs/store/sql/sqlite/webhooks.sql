-- Webhook queries whose SQL is SQLite's own (JSON parameters).

-- name: enabled_endpoints_of_projects
SELECT * FROM webhook_endpoints
WHERE enabled AND project_id IN (SELECT value FROM json_each(:ids))
ORDER BY project_id, id;

-- SQLite has no INSERT inside WITH: an attempt is two statements here.

-- name: insert_webhook_attempt
INSERT INTO webhook_attempts (delivery_id, attempt, at, status, latency_ms, error, response)
VALUES (:id, :attempt, :now, :status, :latency_ms, :error, :response);

-- name: delivery_attempted
UPDATE webhook_deliveries
SET state = :state, attempts = attempts + 1, next_attempt_at = :next_attempt_at,
    finished_at = CASE WHEN :state = 'pending' THEN NULL ELSE :now END,
    last_status = :status, last_error = :error
WHERE id = :id;
