-- The workers alive: each `serve` process's worker says so with every heartbeat (its row's
-- seen_at) and removes its row when it stops; one not seen for three heartbeats is gone.
CREATE TABLE workers (
    id TEXT PRIMARY KEY,
    started_at TEXT NOT NULL,
    seen_at TEXT NOT NULL
);
