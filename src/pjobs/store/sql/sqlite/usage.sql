-- Usage queries whose SQL is SQLite's own.

-- name: compute_baselines
-- Each project's baseline: the median of its per-minute request rate over the complete
-- days of the window that had traffic (a project with none has no baseline). `median` is
-- pjobs' own aggregate (store/sqlite_functions.py).
INSERT INTO usage_baselines (project_id, requests_per_minute, days, computed_at)
SELECT project_id, median(requests) / 1440.0, count(*), :now
FROM usage_days
WHERE day >= :first_day AND day < :today AND requests > 0
GROUP BY project_id;

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
        WHERE minute >= :since AND minute < :until
        GROUP BY project_id
    ) AS w
    JOIN projects AS p ON p.id = w.project_id AND p.status = 'active'
    LEFT JOIN usage_baselines AS b ON b.project_id = w.project_id
    WHERE :ids IS NULL OR w.project_id IN (SELECT value FROM json_each(:ids))
)
SELECT counted.checked, c.*
FROM (SELECT count(*) AS checked FROM w) AS counted
LEFT JOIN (
    SELECT * FROM w
    WHERE (w.baseline > 0
           AND w.requests / :minutes
               > :usage_ratio * w.baseline - 0.001 * (:usage_ratio + 1))
       OR (w.requests >= :min_requests
           AND w.errors > :error_rate * w.requests * 0.999999)
) AS c ON 1 = 1
ORDER BY c.project_id;

-- The bulk path of usage: records come into the staging table (`stage_usage_records`), then
-- are added up into each table by one statement (`merge_usage_*`).
-- Times come as whole microseconds since the epoch, minutes and days as whole numbers
-- since it, and are turned into the stored text once a row.

-- name: stage_usage
CREATE TEMP TABLE IF NOT EXISTS stage_usage_records (
    line INTEGER, project_id TEXT, metric TEXT, gauge INTEGER, value REAL, micros INTEGER,
    period TEXT, day INTEGER
);
DELETE FROM stage_usage_records;

-- name: stage_usage_records
-- The records travel as one JSON array of rows (staging.encode_staged), unpacked by SQLite
-- in C: a third less time than binding them row by row.
INSERT INTO stage_usage_records
SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'),
       json_extract(value, '$[3]'), json_extract(value, '$[4]'), json_extract(value, '$[5]'),
       json_extract(value, '$[6]'), json_extract(value, '$[7]')
FROM json_each(:records);

-- name: count_projects_named
-- How many of the project ids (distinct, one a line) are projects: the lines made a JSON
-- array (a project id needs no escaping) for json_each to split.
SELECT count(*) AS projects FROM projects
WHERE id IN (SELECT value FROM json_each('["' || replace(:ids, char(10), '","') || '"]'));

-- name: lock_usage
-- Writers of usage go one at a time (see PostgreSQL's twin): SQLite's writers do already.
SELECT 1;

-- name: merge_usage_counters
-- Each merge groups by project id first: the most varied column settles most comparisons of
-- SQLite's sort (a quarter less time than by period or day first), and the rows still come
-- near enough to the index's order for the pages they write.
-- A total stops at 1e18 (usage.MAX_USAGE_TOTAL): it stays finite.
INSERT INTO usage_totals (period, project_id, metric, value, measured_at)
SELECT period, project_id, metric, min(value, 1e18),
       strftime('%Y-%m-%dT%H:%M:%S', micros / 1000000, 'unixepoch')
       || printf('.%06d+00:00', micros % 1000000)
FROM (
    SELECT period, project_id, metric, total(value) AS value, max(micros) AS micros
    FROM stage_usage_records WHERE NOT gauge
    GROUP BY project_id, metric, period
)
WHERE true  -- makes the upsert clause below parse unambiguously after a SELECT
ON CONFLICT (period, project_id, metric) DO UPDATE SET
    value = min(usage_totals.value + excluded.value, 1e18),
    measured_at = max(usage_totals.measured_at, excluded.measured_at);

-- name: merge_usage_gauges
-- A gauge keeps the value measured last (of the same time: the later line): the record of
-- the greatest [time, line], both as fixed-width digits; with one max() in a query, SQLite
-- takes its other columns from that record (a third less time than row_number()).
INSERT INTO usage_totals (period, project_id, metric, value, measured_at)
SELECT period, project_id, metric, value,
       strftime('%Y-%m-%dT%H:%M:%S', micros / 1000000, 'unixepoch')
       || printf('.%06d+00:00', micros % 1000000)
FROM (
    SELECT period, project_id, metric, value, micros,
           max(printf('%016d%012d', micros, line)) AS latest
    FROM stage_usage_records WHERE gauge
    GROUP BY project_id, metric, period
)
WHERE true
ON CONFLICT (period, project_id, metric) DO UPDATE SET
    value = CASE WHEN excluded.measured_at >= usage_totals.measured_at
                 THEN excluded.value ELSE usage_totals.value END,
    measured_at = max(usage_totals.measured_at, excluded.measured_at);

-- name: merge_usage_minutes
INSERT INTO usage_minutes (minute, project_id, requests, errors)
SELECT strftime('%Y-%m-%dT%H:%M:00.000000+00:00', minute * 60, 'unixepoch'),
       project_id, min(requests, 1e18), min(errors, 1e18)
FROM (
    SELECT micros / 60000000 AS minute, project_id,
           total(value) FILTER (WHERE metric = 'requests') AS requests,
           total(value) FILTER (WHERE metric = 'errors') AS errors
    FROM stage_usage_records
    WHERE metric IN ('requests', 'errors') AND micros >= :from_micros
    GROUP BY project_id, 1
)
WHERE true
ON CONFLICT (minute, project_id) DO UPDATE SET
    requests = min(usage_minutes.requests + excluded.requests, 1e18),
    errors = min(usage_minutes.errors + excluded.errors, 1e18);

-- name: merge_usage_days
INSERT INTO usage_days (day, project_id, requests, errors)
SELECT date(day * 86400, 'unixepoch'), project_id, min(requests, 1e18), min(errors, 1e18)
FROM (
    SELECT day, project_id,
           total(value) FILTER (WHERE metric = 'requests') AS requests,
           total(value) FILTER (WHERE metric = 'errors') AS errors
    FROM stage_usage_records
    WHERE metric IN ('requests', 'errors')
    GROUP BY project_id, day
)
WHERE true
ON CONFLICT (day, project_id) DO UPDATE SET
    requests = min(usage_days.requests + excluded.requests, 1e18),
    errors = min(usage_days.errors + excluded.errors, 1e18);
