-- The cached baselines are a cache: the abuse scan replaces them all at once, and a
-- reference check a row was a third of that recompute over 100,000 projects. Projects are
-- never deleted (deprovisioning keeps their row), and the scan reads a baseline only
-- joined to its project.
ALTER TABLE usage_baselines DROP CONSTRAINT usage_baselines_project_id_fkey;
