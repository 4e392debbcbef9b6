-- Usage: totals per billing period, per-minute counts for the current window, per-day
-- counts for the baselines; quotas, warnings sent, checks, abuse detections; and the
-- events outbox (written in the same transaction as the change it reports).
-- Times are ISO-8601 UTC text, days YYYY-MM-DD text: both compare as text.
CREATE TABLE usage_totals (
    project_id TEXT NOT NULL REFERENCES projects (id),
    metric TEXT NOT NULL,
    period TEXT NOT NULL,              -- the billing period, e.g. 2026-11 (calendar month, UTC)
    value REAL NOT NULL,   -- a counter's sum, or a gauge's latest value
    measured_at TEXT NOT NULL,  -- the latest time recorded (orders gauge values)
    PRIMARY KEY (period, project_id, metric)
);

CREATE TABLE usage_minutes (
    project_id TEXT NOT NULL REFERENCES projects (id),
    minute TEXT NOT NULL,
    requests REAL NOT NULL DEFAULT 0,
    errors REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (minute, project_id)
);

CREATE TABLE usage_days (
    project_id TEXT NOT NULL REFERENCES projects (id),
    day TEXT NOT NULL,
    requests REAL NOT NULL DEFAULT 0,
    errors REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (day, project_id)  -- baselines and pruning read by day
);

-- A project's normal request rate: the median of its daily per-minute rates over the
-- last complete days, cached by the abuse scan.
CREATE TABLE usage_baselines (
    project_id TEXT PRIMARY KEY REFERENCES projects (id),
    requests_per_minute REAL NOT NULL,
    days INTEGER NOT NULL,
    computed_at TEXT NOT NULL
);

CREATE TABLE quota_overrides (
    project_id TEXT NOT NULL REFERENCES projects (id),
    metric TEXT NOT NULL,
    quota_limit REAL NOT NULL CHECK (quota_limit >= 0),
    hard INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (project_id, metric)
);

-- Each warning threshold is sent at most once per project, metric and period.
CREATE TABLE quota_warnings (
    project_id TEXT NOT NULL REFERENCES projects (id),
    metric TEXT NOT NULL,
    period TEXT NOT NULL,
    threshold INTEGER NOT NULL,
    value REAL NOT NULL,
    quota_limit REAL NOT NULL,
    sent_at TEXT NOT NULL,
    job_id INTEGER,
    PRIMARY KEY (project_id, metric, period, threshold)
);

CREATE TABLE quota_checks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    job_id INTEGER,
    period TEXT NOT NULL,
    scope TEXT NOT NULL,
    enforced INTEGER NOT NULL,
    checked INTEGER NOT NULL,
    warned INTEGER NOT NULL,
    suspended INTEGER NOT NULL,
    protected INTEGER NOT NULL,
    findings TEXT NOT NULL
);
CREATE INDEX quota_checks_at ON quota_checks (at);

CREATE TABLE abuse_detections (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    project_id TEXT NOT NULL REFERENCES projects (id),
    pattern TEXT NOT NULL,
    held INTEGER NOT NULL,
    action TEXT NOT NULL,
    reason TEXT NOT NULL,
    metrics TEXT NOT NULL,
    actor TEXT NOT NULL,
    job_id INTEGER
);
CREATE INDEX abuse_detections_project ON abuse_detections (project_id, at);

CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    type TEXT NOT NULL,
    project_id TEXT,
    data TEXT NOT NULL,
    actor TEXT,
    job_id INTEGER
);
CREATE INDEX events_project ON events (project_id, id);
