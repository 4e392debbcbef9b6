-- The cached baselines are a cache: the abuse scan replaces them all at once, and needs no
-- reference check a row (see PostgreSQL's twin). SQLite drops a reference only with its
-- table; the next scan computes the baselines again.
DROP TABLE usage_baselines;
CREATE TABLE usage_baselines (
    project_id TEXT PRIMARY KEY,
    requests_per_minute REAL NOT NULL,
    days INTEGER NOT NULL,
    computed_at TEXT NOT NULL
);
