-- Webhook queries whose SQL is SQLite's own (JSON parameters).

-- name: get_deliveries_to_send
-- Deliveries and their endpoints in one statement (the endpoint's columns prefixed "e."),
-- packed into one row (`SQLiteStore.packed_rows`): a worker reads those it claimed.
SELECT json_group_array(json_object(
    'id', d.id, 'endpoint_id', d.endpoint_id, 'event_type', d.event_type, 'body', d.body,
    'state', d.state, 'attempts', d.attempts, 'job_id', d.job_id,
    'created_at', d.created_at, 'next_attempt_at', d.next_attempt_at,
    'finished_at', d.finished_at, 'last_status', d.last_status, 'last_error', d.last_error,
    'e.id', e.id, 'e.project_id', e.project_id, 'e.url', e.url, 'e.events', e.events,
    'e.description', e.description, 'e.secret', e.secret,
    'e.previous_secret', e.previous_secret,
    'e.previous_secret_expires_at', e.previous_secret_expires_at, 'e.enabled', e.enabled,
    'e.disabled_reason', e.disabled_reason,
    'e.consecutive_failures', e.consecutive_failures, 'e.created_at', e.created_at,
    'e.updated_at', e.updated_at
))
FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
WHERE d.id IN (SELECT value FROM json_each(:ids));

-- name: enabled_endpoints_of_projects
SELECT * FROM webhook_endpoints
WHERE enabled AND project_id IN (SELECT value FROM json_each(:ids))
ORDER BY project_id, id;

-- SQLite has no INSERT inside WITH: attempts are two statements here. :rows is a JSON
-- array of {id, attempt, at, state, next_attempt_at, status, latency_ms, error, response}.

-- name: insert_webhook_attempts
INSERT INTO webhook_attempts (delivery_id, attempt, at, status, latency_ms, error, response)
SELECT json_extract(value, '$.id'), json_extract(value, '$.attempt'),
       json_extract(value, '$.at'), json_extract(value, '$.status'),
       json_extract(value, '$.latency_ms'), json_extract(value, '$.error'),
       json_extract(value, '$.response')
FROM json_each(:rows);

-- name: deliveries_attempted
UPDATE webhook_deliveries
SET state = json_extract(a.value, '$.state'), attempts = attempts + 1,
    next_attempt_at = json_extract(a.value, '$.next_attempt_at'),
    finished_at = CASE WHEN json_extract(a.value, '$.state') = 'pending' THEN NULL
                       ELSE json_extract(a.value, '$.at') END,
    last_status = json_extract(a.value, '$.status'),
    last_error = json_extract(a.value, '$.error')
FROM json_each(:rows) AS a
WHERE webhook_deliveries.id = json_extract(a.value, '$.id');
