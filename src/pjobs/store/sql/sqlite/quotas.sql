-- Quota queries whose SQL is SQLite's own (JSON parameters).

-- name: quota_findings
-- Every active project's usage at or above min_percent of its quota in one period: the
-- plan's limit (the :limits JSON from configuration) unless the project overrides it. A
-- value past the bound of a total (usage.MAX_USAGE_TOTAL, data of an earlier pjobs) is
-- compared at the bound: no overflow stops the check of every project.
WITH plan_limits AS (
    SELECT json_extract(value, '$.plan') AS plan, json_extract(value, '$.metric') AS metric,
           json_extract(value, '$.quota_limit') AS quota_limit,
           json_extract(value, '$.hard') AS hard
    FROM json_each(:limits)
), scoped AS (
    SELECT id, owner_id, plan, protected FROM projects
    WHERE status = 'active' AND (:ids IS NULL OR id IN (SELECT value FROM json_each(:ids)))
)
SELECT s.id AS project_id, s.owner_id, s.protected, u.metric, u.value,
       coalesce(o.quota_limit, l.quota_limit) AS quota_limit, coalesce(o.hard, l.hard) AS hard
FROM usage_totals AS u
JOIN scoped AS s ON s.id = u.project_id
LEFT JOIN quota_overrides AS o ON o.project_id = u.project_id AND o.metric = u.metric
LEFT JOIN plan_limits AS l ON l.plan = s.plan AND l.metric = u.metric
WHERE u.period = :period AND u.value > 0
  AND min(u.value, 1e18) * 100 >= :min_percent * coalesce(o.quota_limit, l.quota_limit)
ORDER BY s.id, u.metric;

-- name: count_active_projects
SELECT count(*) AS checked FROM projects
WHERE status = 'active' AND (:ids IS NULL OR id IN (SELECT value FROM json_each(:ids)));

-- name: insert_quota_warnings
-- A warning row per threshold; one already sent this period is not sent again. Returns
-- the rows this call inserted.
INSERT INTO quota_warnings (project_id, metric, period, threshold, value, quota_limit, sent_at,
                            job_id)
SELECT json_extract(value, '$.project_id'), json_extract(value, '$.metric'),
       json_extract(value, '$.period'), json_extract(value, '$.threshold'),
       json_extract(value, '$.value'), json_extract(value, '$.quota_limit'), :now, :job_id
FROM json_each(:rows)
WHERE true  -- makes the upsert clause below parse unambiguously after a SELECT
ON CONFLICT DO NOTHING
RETURNING project_id, metric, threshold;
