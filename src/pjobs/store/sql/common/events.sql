-- The events outbox: one row per platform event, written with the change it reports.

-- name: insert_event
INSERT INTO events (at, type, project_id, data, actor, job_id)
VALUES (:now, :type, :project_id, :data, :actor, :job_id);

-- name: list_events
SELECT * FROM events
WHERE coalesce(project_id, '') = coalesce(:project_id, project_id, '')
  AND type = coalesce(:type, type)
ORDER BY id DESC
LIMIT :limit OFFSET :offset;

-- name: events_after
SELECT * FROM events
WHERE id > :after
  AND coalesce(project_id, '') = coalesce(:project_id, project_id, '')
  AND type = coalesce(:type, type)
ORDER BY id
LIMIT :limit;
