-- The tenant schema pjobs applies inside every new tenant database (SQLite and PostgreSQL
-- alike). Replace it with `tenants.schema_file`. Statements must be safe to run twice.
CREATE TABLE IF NOT EXISTS app_users (
    id TEXT PRIMARY KEY,
    email TEXT UNIQUE,
    display_name TEXT,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE IF NOT EXISTS app_sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES app_users (id),
    expires_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS app_objects (
    bucket TEXT NOT NULL,
    name TEXT NOT NULL,
    size_bytes BIGINT NOT NULL DEFAULT 0,
    content_type TEXT,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (bucket, name)
);
CREATE TABLE IF NOT EXISTS app_events (
    id BIGINT PRIMARY KEY,
    channel TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
