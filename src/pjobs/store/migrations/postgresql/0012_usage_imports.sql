-- Usage imports, by the SHA-256 of what was read: the same file imported again (a cron run
-- repeated after a crash, an operator's second try) adds nothing.
CREATE TABLE usage_imports (
    sha256 text PRIMARY KEY,
    lines bigint NOT NULL,
    records bigint NOT NULL,
    imported_at timestamptz NOT NULL,
    requested_by text
);
