-- Usage queries whose SQL is PostgreSQL's own.

-- name: compute_baselines
-- Each project's baseline: the median of its per-minute request rate over the complete
-- days of the window that had traffic (a project with none has no baseline).
INSERT INTO usage_baselines (project_id, requests_per_minute, days, computed_at)
SELECT project_id COLLATE "C", percentile_cont(0.5) WITHIN GROUP (ORDER BY requests / 1440.0),
       count(*), %(now)s
FROM usage_days
WHERE day >= %(first_day)s AND day < %(today)s AND requests > 0
GROUP BY project_id COLLATE "C";  -- by bytes: a fifth faster than in the locale's order

-- name: scan_window
-- Every active project with requests in the window is counted (`checked`); those for which
-- a pattern may hold come with their counts, cached baseline and protected flag, for
-- `abuse.evaluate` to judge: a necessary condition of each pattern, loose enough for the
-- rounding of the figures it judges (requests a minute and baseline to 3 decimals). One
-- row a candidate, each with `checked`; one row without a project when there is none.
WITH w AS MATERIALIZED (
    SELECT w.project_id, w.requests, w.errors, b.requests_per_minute AS baseline, p.protected
    FROM (
        SELECT project_id, sum(requests) AS requests, sum(errors) AS errors
        FROM usage_minutes
        WHERE minute >= %(since)s AND minute < %(until)s
        GROUP BY project_id
    ) AS w
    JOIN projects AS p ON p.id = w.project_id AND p.status = 'active'
    LEFT JOIN usage_baselines AS b ON b.project_id = w.project_id
    WHERE %(ids)s::text[] IS NULL OR w.project_id = ANY(%(ids)s::text[])
)
SELECT counted.checked, c.*
FROM (SELECT count(*) AS checked FROM w) AS counted
LEFT JOIN (
    SELECT * FROM w
    WHERE (w.baseline > 0
           AND w.requests / %(minutes)s
               > %(usage_ratio)s * w.baseline - 0.001 * (%(usage_ratio)s + 1))
       OR (w.requests >= %(min_requests)s
           AND w.errors > %(error_rate)s * w.requests * 0.999999)
) AS c ON 1 = 1
ORDER BY c.project_id;

-- The bulk path of usage: records are copied (COPY) into the staging table, then added
-- up into each table by one statement (`merge_usage_*`). Keys in the byte order of
-- `COLLATE "C"`, the order of the tables' keys (migration 0010).

-- name: stage_usage
CREATE TEMP TABLE IF NOT EXISTS stage_usage_records (
    line int8, project_id text COLLATE "C", metric text COLLATE "C", value float8,
    micros int8, gauge bool, period text COLLATE "C", day int4, minute int8
) ON COMMIT DROP;
TRUNCATE stage_usage_records;
-- Room to add a large import up in memory (the default 4 MB spills it to disk).
SET LOCAL work_mem = '64MB';

-- name: merge_usage_counters
INSERT INTO usage_totals (period, project_id, metric, value, measured_at)
SELECT period, project_id, metric, value, timestamptz 'epoch' + micros * interval '1 microsecond'
FROM (
    SELECT period, project_id, metric, sum(value) AS value, max(micros) AS micros
    FROM stage_usage_records WHERE NOT gauge
    GROUP BY period, project_id, metric
) AS added
ORDER BY 1, 2, 3  -- key order: the index page by page
ON CONFLICT (period, project_id, metric) DO UPDATE SET
    value = usage_totals.value + excluded.value,
    measured_at = greatest(usage_totals.measured_at, excluded.measured_at);

-- name: merge_usage_gauges
-- A gauge keeps the value measured last (of the same time: the later line).
INSERT INTO usage_totals (period, project_id, metric, value, measured_at)
SELECT period, project_id, metric, value, timestamptz 'epoch' + micros * interval '1 microsecond'
FROM (
    SELECT DISTINCT ON (period, project_id, metric) period, project_id, metric, value, micros
    FROM stage_usage_records WHERE gauge
    ORDER BY period, project_id, metric, micros DESC, line DESC
) AS latest
ON CONFLICT (period, project_id, metric) DO UPDATE SET
    value = CASE WHEN excluded.measured_at >= usage_totals.measured_at
                 THEN excluded.value ELSE usage_totals.value END,
    measured_at = greatest(usage_totals.measured_at, excluded.measured_at);

-- name: merge_usage_minutes
INSERT INTO usage_minutes (minute, project_id, requests, errors)
SELECT timestamptz 'epoch' + minute * interval '1 minute', project_id, requests, errors
FROM (
    SELECT minute, project_id,
           coalesce(sum(value) FILTER (WHERE metric = 'requests'), 0) AS requests,
           coalesce(sum(value) FILTER (WHERE metric = 'errors'), 0) AS errors
    FROM stage_usage_records
    WHERE metric IN ('requests', 'errors') AND minute >= %(minutes_from)s
    GROUP BY minute, project_id
) AS added
ORDER BY 1, 2
ON CONFLICT (minute, project_id) DO UPDATE SET
    requests = usage_minutes.requests + excluded.requests,
    errors = usage_minutes.errors + excluded.errors;

-- name: merge_usage_days
INSERT INTO usage_days (day, project_id, requests, errors)
SELECT date '1970-01-01' + day, project_id, requests, errors
FROM (
    SELECT day, project_id,
           coalesce(sum(value) FILTER (WHERE metric = 'requests'), 0) AS requests,
           coalesce(sum(value) FILTER (WHERE metric = 'errors'), 0) AS errors
    FROM stage_usage_records
    WHERE metric IN ('requests', 'errors')
    GROUP BY day, project_id
) AS added
ORDER BY 1, 2
ON CONFLICT (day, project_id) DO UPDATE SET
    requests = usage_days.requests + excluded.requests,
    errors = usage_days.errors + excluded.errors;
