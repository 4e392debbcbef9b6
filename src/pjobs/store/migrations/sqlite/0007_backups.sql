-- Backups of tenant databases: state, what was stored where, and the manifest.
CREATE TABLE backups (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects (id),
    state TEXT NOT NULL CHECK (state IN ('running', 'completed', 'failed', 'pruned')),
    format TEXT NOT NULL,
    storage TEXT NOT NULL,
    encrypted INTEGER NOT NULL,
    size INTEGER,
    sha256 TEXT,
    manifest TEXT,                      -- JSON: tables and row counts, tools, checksums
    locations TEXT,                     -- JSON: a file, or Telegram parts
    job_id INTEGER,
    created_at TEXT NOT NULL,
    finished_at TEXT,
    error TEXT
);
CREATE INDEX backups_project ON backups (project_id, created_at);
CREATE INDEX backups_job ON backups (job_id);
