-- Each statement that adds platform events notifies `pjobs_events` (once per transaction,
-- at commit): `pjobs events tail` wakes at once, whoever wrote them.
CREATE FUNCTION pjobs_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('pjobs_events', '');
    RETURN NULL;
END $$;

CREATE TRIGGER events_notify AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION pjobs_events_notify();
