-- Webhooks: endpoints (their signing secrets encrypted), deliveries (one event to one
-- endpoint, the same webhook-id on every attempt) and every attempt of each.
CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects (id),
    url TEXT NOT NULL,
    events TEXT NOT NULL,               -- JSON array of event types; ["*"] is every event
    description TEXT,
    secret TEXT NOT NULL,               -- encrypted (AES-GCM), never the secret itself
    previous_secret TEXT,               -- during a rotation's grace, also signed with
    previous_secret_expires_at TEXT,
    enabled INTEGER NOT NULL,
    disabled_reason TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX webhook_endpoints_project ON webhook_endpoints (project_id);

CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,                -- the webhook-id header
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_type TEXT NOT NULL,
    body TEXT NOT NULL,                 -- the JSON sent, the same on every attempt
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    job_id INTEGER,
    created_at TEXT NOT NULL,
    next_attempt_at TEXT,
    finished_at TEXT,
    last_status INTEGER,
    last_error TEXT
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at);

CREATE TABLE webhook_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    at TEXT NOT NULL,
    status INTEGER,
    latency_ms REAL NOT NULL,
    error TEXT,
    response TEXT                       -- the first KiB of the response body
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, id);
