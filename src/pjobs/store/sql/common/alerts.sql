-- Monitoring alerts received (shared by both dialects).

-- name: insert_alert
-- Returns the row only when this alert (source, key, status) is new.
INSERT INTO alerts (received_at, source, dedupe_key, status, name, project_id, pattern,
                    labels, metrics, action)
VALUES (:now, :source, :dedupe_key, :status, :name, :project_id, :pattern, :labels, :metrics,
        :action)
ON CONFLICT (source, dedupe_key, status) DO NOTHING
RETURNING id;

-- name: firing_alert_of
-- The firing alert a resolution ends (the same source and key).
SELECT * FROM alerts WHERE source = :source AND dedupe_key = :dedupe_key AND status = 'firing';

-- name: get_alert
SELECT * FROM alerts WHERE id = :id;

-- name: set_alert_action
UPDATE alerts SET action = :action, job_id = :job_id WHERE id = :id;

-- name: list_alerts
SELECT * FROM alerts
WHERE source = coalesce(:source, source) AND received_at >= coalesce(:since, received_at)
  AND coalesce(project_id, '') = coalesce(:project_id, project_id, '')
ORDER BY id DESC
LIMIT :limit OFFSET :offset;

-- name: count_alerts
SELECT source, status, count(*) AS count FROM alerts GROUP BY source, status;
