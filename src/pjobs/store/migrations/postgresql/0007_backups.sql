-- Backups of tenant databases: state, what was stored where, and the manifest.
CREATE TABLE backups (
    id text PRIMARY KEY,
    project_id text NOT NULL REFERENCES projects (id),
    state text NOT NULL CHECK (state IN ('running', 'completed', 'failed', 'pruned')),
    format text NOT NULL,
    storage text NOT NULL,
    encrypted boolean NOT NULL,
    size bigint,
    sha256 text,
    manifest text,                      -- JSON: tables and row counts, tools, checksums
    locations text,                     -- JSON: a file, or Telegram parts
    job_id bigint,
    created_at timestamptz NOT NULL,
    finished_at timestamptz,
    error text
);
CREATE INDEX backups_project ON backups (project_id, created_at);
CREATE INDEX backups_job ON backups (job_id);
