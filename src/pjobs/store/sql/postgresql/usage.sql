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
--
-- MERGE, not INSERT ... ON CONFLICT: a join instead of a speculative insertion and a row
-- lock a key, a third less time. MERGE raises a uniqueness violation where another
-- transaction inserts the same key at once, so every writer of usage takes `lock_usage`
-- first: writers of usage go one at a time (they wait on each other's rows anyway), each
-- statement then seeing what the one before committed.

-- name: stage_usage
CREATE TEMP TABLE IF NOT EXISTS stage_usage_records (
    line int8, project_id text COLLATE "C", metric text COLLATE "C", gauge bool,
    value float8, micros int8, period text COLLATE "C", day int4
) ON COMMIT DROP;
TRUNCATE stage_usage_records;
-- Room to add a large import up in memory (the default 4 MB spills it to disk).
SET LOCAL work_mem = '64MB';

-- name: count_projects_named
-- How many of the project ids (distinct, one a line) are projects: split by the server,
-- where a list of 100,000 ids as an array parameter took three times as long to pass.
SELECT count(*) AS projects FROM projects WHERE id = ANY(string_to_array(%(ids)s, E'\n'));

-- name: lock_usage
SELECT pg_advisory_xact_lock(7235004114);

-- name: merge_usage_counters
-- The totals of the billing periods of the records only (`periods`, known to the planner):
-- a join with every period's totals grew with the months kept (with a year of them, the
-- counters took 4.4-5.1 s instead of 2.9-3.2 s, the gauges 2.3-2.8 s instead of 0.8-1.0 s).
MERGE INTO usage_totals AS t
USING (
    SELECT period, project_id, metric, sum(value) AS value,
           timestamptz 'epoch' + max(micros) * interval '1 microsecond' AS measured_at
    FROM stage_usage_records WHERE NOT gauge
    GROUP BY period, project_id, metric
) AS a
ON t.period = a.period AND t.project_id = a.project_id AND t.metric = a.metric
    AND t.period = ANY(%(periods)s::text[])  -- the import's periods: not a year of totals
WHEN MATCHED THEN UPDATE SET  -- a total stops at 1e18 (usage.MAX_USAGE_TOTAL): finite
    value = least(t.value + a.value, 1e18), measured_at = greatest(t.measured_at, a.measured_at)
WHEN NOT MATCHED THEN INSERT (period, project_id, metric, value, measured_at)
    VALUES (a.period, a.project_id, a.metric, least(a.value, 1e18), a.measured_at);

-- name: merge_usage_gauges
-- A gauge keeps the value measured last (of the same time: the later line): the greatest
-- [time, line, value] of each key, found by hashing where sorting the records cost twice as
-- much (times and lines are whole numbers below 2^53, exact as float8).
MERGE INTO usage_totals AS t
USING (
    SELECT period, project_id, metric, latest[3] AS value,
           timestamptz 'epoch' + latest[1]::int8 * interval '1 microsecond' AS measured_at
    FROM (
        SELECT period, project_id, metric, max(ARRAY[micros, line, value]) AS latest
        FROM stage_usage_records WHERE gauge
        GROUP BY period, project_id, metric
    ) AS latest
) AS a
ON t.period = a.period AND t.project_id = a.project_id AND t.metric = a.metric
    AND t.period = ANY(%(periods)s::text[])  -- the import's periods: not a year of totals
WHEN MATCHED AND a.measured_at >= t.measured_at THEN UPDATE SET
    value = a.value, measured_at = a.measured_at
WHEN NOT MATCHED THEN INSERT (period, project_id, metric, value, measured_at)
    VALUES (a.period, a.project_id, a.metric, a.value, a.measured_at);

-- name: merge_usage_minutes
MERGE INTO usage_minutes AS t
USING (
    SELECT timestamptz 'epoch' + minute * interval '1 minute' AS minute, project_id,
           requests, errors
    FROM (
        SELECT micros / 60000000 AS minute, project_id,
               coalesce(sum(value) FILTER (WHERE metric = 'requests'), 0) AS requests,
               coalesce(sum(value) FILTER (WHERE metric = 'errors'), 0) AS errors
        FROM stage_usage_records
        WHERE metric IN ('requests', 'errors') AND micros >= %(from_micros)s
        GROUP BY 1, project_id
        ORDER BY 1, project_id  -- key order: the index page by page
    ) AS added
) AS a
ON t.minute = a.minute AND t.project_id = a.project_id
WHEN MATCHED THEN UPDATE SET requests = least(t.requests + a.requests, 1e18),
                             errors = least(t.errors + a.errors, 1e18)
WHEN NOT MATCHED THEN INSERT (minute, project_id, requests, errors)
    VALUES (a.minute, a.project_id, least(a.requests, 1e18), least(a.errors, 1e18));

-- name: merge_usage_days
MERGE INTO usage_days AS t
USING (
    SELECT date '1970-01-01' + day AS day, project_id, requests, errors
    FROM (
        SELECT day, project_id,
               coalesce(sum(value) FILTER (WHERE metric = 'requests'), 0) AS requests,
               coalesce(sum(value) FILTER (WHERE metric = 'errors'), 0) AS errors
        FROM stage_usage_records
        WHERE metric IN ('requests', 'errors')
        GROUP BY day, project_id
        ORDER BY day, project_id  -- key order: the index page by page
    ) AS added
) AS a
ON t.day = a.day AND t.project_id = a.project_id
WHEN MATCHED THEN UPDATE SET requests = least(t.requests + a.requests, 1e18),
                             errors = least(t.errors + a.errors, 1e18)
WHEN NOT MATCHED THEN INSERT (day, project_id, requests, errors)
    VALUES (a.day, a.project_id, least(a.requests, 1e18), least(a.errors, 1e18));
