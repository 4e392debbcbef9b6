-- Abuse detections: every evaluation of a pattern, whether or not it suspended.

-- name: insert_abuse_detection
INSERT INTO abuse_detections (at, project_id, pattern, held, action, reason, metrics, sources,
                              actor, job_id)
VALUES (:now, :project_id, :pattern, :held, :action, :reason, :metrics, :sources, :actor,
        :job_id)
RETURNING id;

-- name: list_abuse_detections
SELECT * FROM abuse_detections
WHERE project_id = coalesce(:project_id, project_id) AND at >= coalesce(:since, at)
ORDER BY id DESC
LIMIT :limit OFFSET :offset;
