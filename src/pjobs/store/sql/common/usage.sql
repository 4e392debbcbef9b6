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
