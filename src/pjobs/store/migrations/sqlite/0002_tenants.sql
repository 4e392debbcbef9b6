-- The control plane: owners, projects and their provisioning steps, API keys,
-- the audit trail and the notification outbox.
CREATE TABLE owners (
    id TEXT PRIMARY KEY,
    email TEXT,
    telegram_chat_id TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE projects (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    owner_id TEXT NOT NULL REFERENCES owners (id),
    region TEXT NOT NULL,
    plan TEXT NOT NULL,
    status TEXT NOT NULL
        CHECK (status IN ('provisioning', 'active', 'suspended', 'failed', 'deprovisioned')),
    suspension_reason TEXT,
    protected INTEGER NOT NULL DEFAULT 0,
    tenant_database TEXT,
    failed_step TEXT,
    last_error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX projects_owner ON projects (owner_id);
CREATE INDEX projects_status ON projects (status);

CREATE TABLE project_steps (
    project_id TEXT NOT NULL REFERENCES projects (id),
    step TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('done', 'skipped')),
    detail TEXT,
    completed_at TEXT NOT NULL,
    PRIMARY KEY (project_id, step)
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects (id),
    kind TEXT NOT NULL CHECK (kind IN ('publishable', 'secret')),
    version INTEGER NOT NULL,
    prefix TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL CHECK (status IN ('active', 'expiring', 'expired', 'revoked')),
    created_at TEXT NOT NULL,
    expires_at TEXT,
    revoked_at TEXT,
    last_used_at TEXT,
    replaced_by TEXT REFERENCES api_keys (id),
    UNIQUE (project_id, kind, version)
);
CREATE INDEX api_keys_expiring ON api_keys (expires_at) WHERE status = 'expiring';

CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    project_id TEXT,
    target TEXT,
    data TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_project ON audit_events (project_id, at);
CREATE INDEX audit_events_at ON audit_events (at);
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;

CREATE TABLE notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    project_id TEXT,
    recipient TEXT NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('log', 'telegram')),
    address TEXT,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    sent_at TEXT,
    last_error TEXT
);
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE state = 'pending';
CREATE INDEX notifications_project ON notifications (project_id, created_at);
