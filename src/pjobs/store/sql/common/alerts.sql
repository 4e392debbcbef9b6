-- Monitoring alerts received, and the schedule ticks fired (shared by both dialects).

-- name: insert_alert
-- Returns the row only when this alert (source, key, status) is new.
INSERT INTO alerts (received_at, source, dedupe_key, status, name, project_id, pattern,
                    labels, action)
VALUES (:now, :source, :dedupe_key, :status, :name, :project_id, :pattern, :labels, :action)
ON CONFLICT (source, dedupe_key, status) DO NOTHING
RETURNING id;

-- name: set_alert_action
UPDATE alerts SET action = :action, job_id = :job_id WHERE id = :id;

-- name: list_alerts
SELECT * FROM alerts
WHERE source = coalesce(:source, source) AND received_at >= coalesce(:since, received_at)
ORDER BY id DESC
LIMIT :limit;

-- name: count_alerts
SELECT source, status, count(*) AS count FROM alerts GROUP BY source, status;

-- name: insert_tick
-- Returns the row only for the first process to fire this tick.
INSERT INTO schedule_ticks (schedule, fire_at, created_at) VALUES (:schedule, :fire_at, :now)
ON CONFLICT (schedule, fire_at) DO NOTHING
RETURNING schedule;

-- name: set_tick_job
UPDATE schedule_ticks SET job_id = :job_id WHERE schedule = :schedule AND fire_at = :fire_at;

-- name: last_ticks
SELECT t.schedule, t.fire_at, t.job_id, j.state AS job_state
FROM schedule_ticks AS t
LEFT JOIN jobs AS j ON j.id = t.job_id
WHERE t.fire_at = (SELECT max(fire_at) FROM schedule_ticks AS u WHERE u.schedule = t.schedule);

-- name: ticks_of
SELECT * FROM schedule_ticks WHERE schedule = :schedule ORDER BY fire_at DESC LIMIT :limit;
