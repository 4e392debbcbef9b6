-- Quotas: per-project overrides of the plan limits, the warnings sent, and the record of
-- every check (shared by both dialects; :name parameters).

-- name: set_quota_override
INSERT INTO quota_overrides (project_id, metric, quota_limit, hard, updated_at)
VALUES (:project_id, :metric, :quota_limit, :hard, :now)
ON CONFLICT (project_id, metric) DO UPDATE SET
    quota_limit = excluded.quota_limit, hard = excluded.hard, updated_at = excluded.updated_at;

-- name: unset_quota_override
DELETE FROM quota_overrides WHERE project_id = :project_id AND metric = :metric;

-- name: quota_overrides
SELECT * FROM quota_overrides WHERE project_id = :project_id ORDER BY metric;

-- name: quota_warnings_of
SELECT * FROM quota_warnings WHERE project_id = :project_id AND period = :period
ORDER BY metric, threshold;

-- name: warned_in_period
SELECT project_id, metric, threshold FROM quota_warnings WHERE period = :period;

-- name: insert_quota_check
INSERT INTO quota_checks (at, actor, job_id, period, scope, enforced, checked, warned, suspended,
                          protected, findings)
VALUES (:now, :actor, :job_id, :period, :scope, :enforced, :checked, :warned, :suspended,
        :protected, :findings)
RETURNING id;

-- name: list_quota_checks
SELECT * FROM quota_checks ORDER BY id DESC LIMIT :limit OFFSET :offset;
