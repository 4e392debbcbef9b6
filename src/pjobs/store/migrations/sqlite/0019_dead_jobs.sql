-- The jobs an operator looks for first (failed or cancelled: few), for the dashboard's
-- filters and counts; a job that succeeds never enters this index.
CREATE INDEX jobs_dead ON jobs (id) WHERE state IN ('failed', 'cancelled');
