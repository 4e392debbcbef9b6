-- Project queries whose SQL is PostgreSQL's own: those over many projects at once.

-- name: get_projects
SELECT * FROM projects WHERE id = ANY(%(ids)s::text[]) ORDER BY id;

-- name: take_project_locks
-- A project's lifecycle operations (provision, deprovision, suspend, resume, restore) run
-- one at a time: the lock is the job that holds it, for as long as that job is queued or
-- running with a live lease. A job that died with it held (lease expired) holds nothing.
-- Returns the projects the job holds now.
UPDATE projects SET operation_job_id = %(job_id)s
WHERE id = ANY(%(ids)s::text[])
  AND (operation_job_id IS NULL OR operation_job_id = %(job_id)s
       OR NOT EXISTS (SELECT 1 FROM jobs AS holder
                      WHERE holder.id = projects.operation_job_id
                        AND (holder.state = 'queued'
                             OR (holder.state = 'running' AND holder.lease_expires_at > %(now)s))))
RETURNING id;

-- name: release_project_locks
UPDATE projects SET operation_job_id = NULL
WHERE id = ANY(%(ids)s::text[]) AND operation_job_id = %(job_id)s;

-- name: suspend_projects
-- Only an active project is suspended; :rows is a JSON array of {id, reason}. Returns the
-- projects this call suspended.
UPDATE projects AS p SET status = 'suspended', suspension_reason = r.reason, updated_at = %(now)s
FROM json_to_recordset(%(rows)s::json) AS r (id text, reason text)
WHERE p.id = r.id AND p.status = 'active'
RETURNING p.id;

-- name: projects_of_unknown_plans
-- Active projects whose plan the configuration no longer has (no quotas apply to them).
SELECT id FROM projects
WHERE status = 'active' AND NOT (plan = ANY(%(plans)s::text[]))
ORDER BY id LIMIT %(limit)s;
