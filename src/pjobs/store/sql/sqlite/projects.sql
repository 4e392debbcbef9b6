-- Project queries whose SQL is SQLite's own: those over many projects at once.

-- name: get_projects
SELECT * FROM projects WHERE id IN (SELECT value FROM json_each(:ids)) ORDER BY id;

-- name: take_project_locks
-- A project's lifecycle operations (provision, deprovision, suspend, resume, restore) run
-- one at a time: the lock is the job that holds it, for as long as that job is queued or
-- running with a live lease. A job that died with it held (lease expired) holds nothing.
-- Returns the projects the job holds now.
UPDATE projects SET operation_job_id = :job_id
WHERE id IN (SELECT value FROM json_each(:ids))
  AND (operation_job_id IS NULL OR operation_job_id = :job_id
       OR NOT EXISTS (SELECT 1 FROM jobs AS holder
                      WHERE holder.id = projects.operation_job_id
                        AND (holder.state = 'queued'
                             OR (holder.state = 'running' AND holder.lease_expires_at > :now))))
RETURNING id;

-- name: release_project_locks
UPDATE projects SET operation_job_id = NULL
WHERE id IN (SELECT value FROM json_each(:ids)) AND operation_job_id = :job_id;

-- name: suspend_projects
-- Only an active project is suspended; :rows is a JSON array of {id, reason}. Returns the
-- projects this call suspended. (`+status`: look projects up by id, row by row, not scan
-- the active ones by their status's index.)
UPDATE projects SET status = 'suspended', suspension_reason = r.reason, updated_at = :now
FROM (SELECT json_extract(value, '$.id') AS id, json_extract(value, '$.reason') AS reason
      FROM json_each(:rows)) AS r
WHERE projects.id = r.id AND +projects.status = 'active'
RETURNING projects.id;

-- name: projects_of_unknown_plans
-- Active projects whose plan the configuration no longer has (no quotas apply to them).
SELECT id FROM projects
WHERE status = 'active' AND plan NOT IN (SELECT value FROM json_each(:plans))
ORDER BY id LIMIT :limit;
