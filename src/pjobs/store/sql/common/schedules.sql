-- The ticks of the schedules, each fired once across every `serve` process (both dialects).

-- name: insert_tick
-- Returns the row only for the first process to fire this tick.
INSERT INTO schedule_ticks (schedule, fire_at, created_at) VALUES (:schedule, :fire_at, :now)
ON CONFLICT (schedule, fire_at) DO NOTHING
RETURNING schedule;

-- name: set_tick_job
UPDATE schedule_ticks SET job_id = :job_id WHERE schedule = :schedule AND fire_at = :fire_at;

-- name: last_ticks
SELECT t.schedule, t.fire_at, t.job_id, j.state AS job_state
FROM schedule_ticks AS t
LEFT JOIN jobs AS j ON j.id = t.job_id
WHERE t.fire_at = (SELECT max(fire_at) FROM schedule_ticks AS u WHERE u.schedule = t.schedule);

-- name: ticks_of
SELECT * FROM schedule_ticks WHERE schedule = :schedule ORDER BY fire_at DESC LIMIT :limit;

-- name: see_schedule
-- The first time a serve saw the schedule (kept), and returned: when that was.
INSERT INTO schedules_seen (schedule, first_seen) VALUES (:schedule, :now)
ON CONFLICT (schedule) DO NOTHING;

-- name: schedule_first_seen
SELECT first_seen FROM schedules_seen WHERE schedule = :schedule;
