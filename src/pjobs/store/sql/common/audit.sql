-- The append-only audit trail.
-- Shared by both dialects (:name parameters); rows are read by column name.

-- name: insert_audit
INSERT INTO audit_events (at, actor, action, project_id, target, data, job_id)
VALUES (:now, :actor, :action, :project_id, :target, :data, :job_id);

-- name: list_audit
SELECT * FROM audit_events
WHERE coalesce(project_id, '') = coalesce(:project_id, project_id, '')
  AND at >= coalesce(:since, at)
ORDER BY id DESC
LIMIT :limit OFFSET :offset;

-- name: recent_audit_of
-- A project's latest audit events, newest first.
SELECT * FROM audit_events WHERE project_id = :project_id ORDER BY id DESC LIMIT :limit;
