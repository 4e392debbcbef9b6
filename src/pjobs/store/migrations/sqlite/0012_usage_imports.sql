-- Usage imports, by the SHA-256 of what was read: the same file imported again (a cron run
-- repeated after a crash, an operator's second try) adds nothing.
CREATE TABLE usage_imports (
    sha256 TEXT PRIMARY KEY,
    lines INTEGER NOT NULL,
    records INTEGER NOT NULL,
    imported_at TEXT NOT NULL,
    requested_by TEXT
);
