-- The jobs of a project (its page, the dashboard's filter), newest first, without reading
-- the table until a page is found: only jobs whose payload names a project are in it.
CREATE INDEX jobs_project ON jobs ((payload->>'project_id'), id) WHERE payload ? 'project_id';
