-- What `pjobs serve` keeps: every monitoring alert received (the same alert acted on once,
-- across processes), and every schedule tick fired (each enqueues its job once).
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at TEXT NOT NULL,
    source TEXT NOT NULL,              -- alertmanager, grafana, datadog, generic
    dedupe_key TEXT NOT NULL,          -- fingerprint + startsAt, or the alert cycle key
    status TEXT NOT NULL CHECK (status IN ('firing', 'resolved')),
    name TEXT,
    project_id TEXT,                   -- as the alert named it (it may name no project)
    pattern TEXT,
    labels TEXT NOT NULL,              -- JSON
    action TEXT NOT NULL,              -- what was done: an auto_suspend job, or why not
    job_id INTEGER,
    UNIQUE (source, dedupe_key, status)
);
CREATE INDEX alerts_received ON alerts (received_at);

CREATE TABLE schedule_ticks (
    schedule TEXT NOT NULL,
    fire_at TEXT NOT NULL,
    job_id INTEGER,
    created_at TEXT NOT NULL,
    PRIMARY KEY (schedule, fire_at)
);
