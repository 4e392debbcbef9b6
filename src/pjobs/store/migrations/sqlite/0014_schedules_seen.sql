-- When each schedule was first seen by a serve: a tick from before then (before the
-- schedule, or the database, existed) is never fired by a serve catching up.
CREATE TABLE schedules_seen (
    schedule TEXT PRIMARY KEY,
    first_seen TEXT NOT NULL
);
