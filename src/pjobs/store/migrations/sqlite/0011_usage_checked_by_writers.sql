-- Usage rows name their project without a reference check a row (see PostgreSQL's twin).
-- SQLite drops a reference only with its table: each table is copied into one without.
CREATE TABLE usage_totals_new (
    project_id TEXT NOT NULL,
    metric TEXT NOT NULL,
    period TEXT NOT NULL,              -- the billing period, e.g. 2026-11 (calendar month, UTC)
    value REAL NOT NULL,   -- a counter's sum, or a gauge's latest value
    measured_at TEXT NOT NULL,  -- the latest time recorded (orders gauge values)
    PRIMARY KEY (period, project_id, metric)
);
INSERT INTO usage_totals_new SELECT project_id, metric, period, value, measured_at FROM usage_totals;
DROP TABLE usage_totals;
ALTER TABLE usage_totals_new RENAME TO usage_totals;

CREATE TABLE usage_minutes_new (
    project_id TEXT NOT NULL,
    minute TEXT NOT NULL,
    requests REAL NOT NULL DEFAULT 0,
    errors REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (minute, project_id)
);
INSERT INTO usage_minutes_new SELECT project_id, minute, requests, errors FROM usage_minutes;
DROP TABLE usage_minutes;
ALTER TABLE usage_minutes_new RENAME TO usage_minutes;

CREATE TABLE usage_days_new (
    project_id TEXT NOT NULL,
    day TEXT NOT NULL,
    requests REAL NOT NULL DEFAULT 0,
    errors REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (day, project_id)  -- baselines and pruning read by day
);
INSERT INTO usage_days_new SELECT project_id, day, requests, errors FROM usage_days;
DROP TABLE usage_days;
ALTER TABLE usage_days_new RENAME TO usage_days;
