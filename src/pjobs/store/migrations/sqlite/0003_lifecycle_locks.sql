-- Who asked for each job, and the job holding each project's lifecycle lock (provision,
-- deprovision, suspend, resume, restore run one at a time on a project).
ALTER TABLE jobs ADD COLUMN requested_by TEXT;
ALTER TABLE projects ADD COLUMN operation_job_id INTEGER;
ALTER TABLE audit_events ADD COLUMN job_id INTEGER;
