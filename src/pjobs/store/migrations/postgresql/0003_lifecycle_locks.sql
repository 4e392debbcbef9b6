-- Who asked for each job, and the job holding each project's lifecycle lock (provision,
-- deprovision, suspend, resume, restore run one at a time on a project).
ALTER TABLE jobs ADD COLUMN requested_by text;
ALTER TABLE projects ADD COLUMN operation_job_id bigint;
ALTER TABLE audit_events ADD COLUMN job_id bigint;
-- The audit trail is append-only: TRUNCATE is refused too, and the refusal is an integrity
-- error (as SQLite's RAISE(ABORT) is), not a generic one.
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only' USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
