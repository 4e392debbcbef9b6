-- Webhook endpoints, deliveries and attempts (shared by both dialects; :name parameters).

-- name: insert_endpoint
INSERT INTO webhook_endpoints (id, project_id, url, events, description, secret, enabled,
                               created_at, updated_at)
VALUES (:id, :project_id, :url, :events, :description, :secret, :enabled, :now, :now);

-- name: get_endpoint
SELECT * FROM webhook_endpoints WHERE id = :id;

-- name: list_endpoints
SELECT * FROM webhook_endpoints
WHERE project_id = coalesce(:project_id, project_id)
ORDER BY project_id, created_at, id
LIMIT :limit OFFSET :offset;

-- name: set_endpoint_enabled
UPDATE webhook_endpoints
SET enabled = :enabled, disabled_reason = :reason, updated_at = :now,
    consecutive_failures = CASE WHEN :enabled THEN 0 ELSE consecutive_failures END
WHERE id = :id;

-- name: disable_enabled_endpoint
-- Disable an endpoint that is enabled; returns it only then (so it is disabled, announced
-- and its owner told once, however many failures of one batch of outcomes ask for it).
UPDATE webhook_endpoints
SET enabled = false, disabled_reason = :reason, updated_at = :now
WHERE id = :id AND enabled
RETURNING id;

-- name: delete_endpoint
DELETE FROM webhook_endpoints WHERE id = :id;

-- name: rotate_endpoint_secret
UPDATE webhook_endpoints
SET previous_secret = secret, previous_secret_expires_at = :expires_at, secret = :secret,
    updated_at = :now
WHERE id = :id;

-- name: count_endpoint_failure
-- A delivery failed for good: one more in a row, while the endpoint is enabled; returns
-- the count (nothing when it is disabled already).
UPDATE webhook_endpoints
SET consecutive_failures = consecutive_failures + 1, updated_at = :now
WHERE id = :id AND enabled
RETURNING consecutive_failures;

-- name: reset_endpoint_failures
UPDATE webhook_endpoints SET consecutive_failures = 0
WHERE id = :id AND consecutive_failures <> 0;

-- name: insert_delivery
INSERT INTO webhook_deliveries (id, endpoint_id, event_type, body, state, created_at,
                                next_attempt_at)
VALUES (:id, :endpoint_id, :event_type, :body, 'pending', :now, :now);

-- name: get_delivery
SELECT * FROM webhook_deliveries WHERE id = :id;

-- name: set_delivery_job
UPDATE webhook_deliveries SET job_id = :job_id WHERE id = :id;

-- name: reopen_delivery
-- A replay: the same delivery (and webhook-id) is pending again.
UPDATE webhook_deliveries
SET state = 'pending', next_attempt_at = :now, finished_at = NULL
WHERE id = :id AND state <> 'pending';

-- name: list_deliveries
SELECT * FROM webhook_deliveries
WHERE endpoint_id = :endpoint_id AND state = coalesce(:state, state)
  AND created_at >= coalesce(:since, created_at)
ORDER BY created_at DESC, id
LIMIT :limit OFFSET :offset;

-- name: delivery_attempts
SELECT * FROM webhook_attempts WHERE delivery_id = :delivery_id ORDER BY id;

-- name: count_deliveries
SELECT state, count(*) AS count FROM webhook_deliveries GROUP BY state;
