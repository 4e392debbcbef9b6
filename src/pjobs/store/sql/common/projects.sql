-- Projects and the steps provisioning and deprovisioning recorded for them.
-- Shared by both dialects (:name parameters); rows are read by column name.

-- name: insert_project
INSERT INTO projects (id, name, owner_id, region, plan, status, created_at, updated_at)
VALUES (:id, :name, :owner_id, :region, :plan, 'provisioning', :now, :now)
ON CONFLICT (id) DO NOTHING;

-- name: get_project
SELECT * FROM projects WHERE id = :id;

-- name: list_projects
SELECT * FROM projects
WHERE status = coalesce(:status, status) AND owner_id = coalesce(:owner_id, owner_id)
ORDER BY id
LIMIT :limit;

-- name: set_project_status
UPDATE projects
SET status = :status, failed_step = :failed_step, last_error = :last_error, updated_at = :now
WHERE id = :id;

-- name: set_tenant_database
UPDATE projects SET tenant_database = :tenant_database, updated_at = :now WHERE id = :id;

-- name: project_steps
SELECT * FROM project_steps
WHERE project_id = :project_id ORDER BY completed_at, step;

-- name: record_step
INSERT INTO project_steps (project_id, step, outcome, detail, completed_at)
VALUES (:project_id, :step, :outcome, :detail, :now)
ON CONFLICT (project_id, step) DO UPDATE
SET outcome = excluded.outcome, detail = excluded.detail, completed_at = excluded.completed_at;
