-- Usage rows name their project without a reference check a row: the one writer of usage
-- (`Usage`) checks the projects of what it adds in its own transaction (an import all of
-- its projects at once, with one join), and a project's row is never deleted
-- (deprovisioning keeps it). The check a row also locked the project's row: a sixth of
-- the time of an import that adds up 1,000,000 lines.
ALTER TABLE usage_totals DROP CONSTRAINT usage_totals_project_id_fkey;
ALTER TABLE usage_days DROP CONSTRAINT usage_days_project_id_fkey;
ALTER TABLE usage_minutes DROP CONSTRAINT usage_minutes_project_id_fkey;
