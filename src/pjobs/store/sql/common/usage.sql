-- Usage: totals per billing period, per-minute and per-day request and error counts, and
-- the cached baselines (shared by both dialects; :name parameters).

-- name: usage_totals
SELECT * FROM usage_totals WHERE project_id = :project_id AND period = :period ORDER BY metric;

-- name: window_usage_of
SELECT sum(requests) AS requests, sum(errors) AS errors
FROM usage_minutes
WHERE project_id = :project_id AND minute >= :since AND minute < :until;

-- name: oldest_baseline
SELECT min(computed_at) AS computed_at, count(*) AS projects FROM usage_baselines;

-- name: clear_baselines
DELETE FROM usage_baselines;

-- name: baseline_of
SELECT * FROM usage_baselines WHERE project_id = :project_id;

-- name: prune_usage_minutes
DELETE FROM usage_minutes WHERE minute < :before;

-- name: prune_usage_days
DELETE FROM usage_days WHERE day < :before;

-- name: staged_usage_projects
-- How many of the staged records' projects exist, and the lines of those that do not: the
-- first `:shown` of them, each row with how many there are (one row without a line if none).
WITH staged AS MATERIALIZED (
    SELECT s.project_id, p.id IS NOT NULL AS found
    FROM (SELECT DISTINCT project_id FROM stage_usage_records) AS s
    LEFT JOIN projects AS p ON p.id = s.project_id
)
SELECT (SELECT count(*) FROM staged WHERE found) AS projects, u.line, u.project_id, u.unknown
FROM (SELECT 1) AS one
LEFT JOIN (
    SELECT line, project_id, count(*) OVER () AS unknown
    FROM stage_usage_records
    WHERE project_id IN (SELECT project_id FROM staged WHERE NOT found)
    ORDER BY line
    LIMIT :shown
) AS u ON true;

-- name: record_usage_import
-- An import's content, recorded with its records; returns nothing when it was already
-- (by another import, which may be committing at this moment: this one then waits for it).
INSERT INTO usage_imports (sha256, lines, records, imported_at, requested_by)
VALUES (:sha256, :lines, :records, :now, :requested_by)
ON CONFLICT (sha256) DO NOTHING
RETURNING sha256;

-- name: usage_import_of
SELECT * FROM usage_imports WHERE sha256 = :sha256;
