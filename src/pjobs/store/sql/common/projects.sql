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
ORDER BY created_at DESC, id
LIMIT :limit OFFSET :offset;

-- name: backed_up_project_ids
SELECT id FROM projects WHERE status IN ('active', 'suspended') ORDER BY id;

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

-- name: resume_project
UPDATE projects SET status = 'active', suspension_reason = NULL, updated_at = :now
WHERE id = :id AND status = 'suspended'
RETURNING id;

-- name: set_project_protected
UPDATE projects SET protected = :protected, updated_at = :now WHERE id = :id;

-- name: count_projects
SELECT status, count(*) AS count FROM projects GROUP BY status;

-- name: complete_project_ids
-- Shell completion: the ids that start with what was typed.
SELECT id FROM projects WHERE substr(id, 1, length(:prefix)) = :prefix ORDER BY id LIMIT :limit;
