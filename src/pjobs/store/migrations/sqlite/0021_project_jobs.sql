-- The jobs of a project (its page, the dashboard's filter), newest first, without reading
-- the table until a page is found: only jobs whose payload names a project are in it.
CREATE INDEX jobs_project ON jobs (json_extract(payload, '$.project_id'), id)
    WHERE json_extract(payload, '$.project_id') IS NOT NULL;
