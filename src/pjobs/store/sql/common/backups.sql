-- Backups (shared by both dialects; :name parameters).

-- name: start_backup
-- A backup being made; an earlier attempt's row is taken over (unless it completed).
INSERT INTO backups (id, project_id, state, format, storage, encrypted, job_id, created_at)
VALUES (:id, :project_id, 'running', :format, :storage, :encrypted, :job_id, :now)
ON CONFLICT (id) DO UPDATE SET state = 'running', job_id = excluded.job_id, error = NULL
WHERE backups.state <> 'completed';

-- name: complete_backup
UPDATE backups
SET state = 'completed', size = :size, sha256 = :sha256, manifest = :manifest,
    locations = :locations, finished_at = :now, error = NULL
WHERE id = :id;

-- name: record_backup_parts
UPDATE backups SET locations = :locations WHERE id = :id AND state = 'running';

-- name: fail_backup
UPDATE backups SET state = 'failed', finished_at = :now, error = :error
WHERE id = :id AND state = 'running';

-- name: prune_backup
UPDATE backups SET state = 'pruned', finished_at = coalesce(finished_at, :now)
WHERE id = :id AND state IN ('completed', 'failed');

-- name: get_backup
SELECT * FROM backups WHERE id = :id;

-- name: get_backup_of_job
SELECT * FROM backups WHERE job_id = :job_id ORDER BY created_at DESC LIMIT 1;

-- name: list_backups
SELECT * FROM backups
WHERE project_id = coalesce(:project_id, project_id) AND state = coalesce(:state, state)
ORDER BY created_at DESC, id
LIMIT :limit OFFSET :offset;
