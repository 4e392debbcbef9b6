-- Quota queries whose SQL is PostgreSQL's own (JSON and array parameters).

-- name: quota_findings
-- Every active project's usage at or above min_percent of its quota in one period: the
-- plan's limit (the :limits JSON from configuration) unless the project overrides it. A
-- value past the bound of a total (usage.MAX_USAGE_TOTAL, data of an earlier pjobs) is
-- compared at the bound: no overflow stops the check of every project.
WITH plan_limits AS (
    SELECT * FROM jsonb_to_recordset(%(limits)s::jsonb)
        AS l(plan text, metric text, quota_limit float8, hard boolean)
), scoped AS (
    SELECT id, owner_id, plan, protected FROM projects
    WHERE status = 'active' AND (%(ids)s::text[] IS NULL OR id = ANY(%(ids)s::text[]))
)
SELECT s.id AS project_id, s.owner_id, s.protected, u.metric, u.value,
       coalesce(o.quota_limit, l.quota_limit) AS quota_limit, coalesce(o.hard, l.hard) AS hard
FROM usage_totals AS u
JOIN scoped AS s ON s.id = u.project_id
LEFT JOIN quota_overrides AS o ON o.project_id = u.project_id AND o.metric = u.metric
LEFT JOIN plan_limits AS l ON l.plan = s.plan AND l.metric = u.metric
WHERE u.period = %(period)s AND u.value > 0
  AND least(u.value, 1e18) * 100 >= %(min_percent)s * coalesce(o.quota_limit, l.quota_limit)
ORDER BY s.id, u.metric;

-- name: count_active_projects
SELECT count(*) AS checked FROM projects
WHERE status = 'active' AND (%(ids)s::text[] IS NULL OR id = ANY(%(ids)s::text[]));

-- name: insert_quota_warnings
-- A warning row per threshold; one already sent this period is not sent again, even by a
-- check running at the same moment. Returns the rows this call inserted.
INSERT INTO quota_warnings (project_id, metric, period, threshold, value, quota_limit, sent_at,
                            job_id)
SELECT w.project_id, w.metric, w.period, w.threshold, w.value, w.quota_limit, %(now)s,
       %(job_id)s
FROM jsonb_to_recordset(%(rows)s::jsonb)
    AS w(project_id text, metric text, period text, threshold int, value float8,
         quota_limit float8)
ON CONFLICT DO NOTHING
RETURNING project_id, metric, threshold;
