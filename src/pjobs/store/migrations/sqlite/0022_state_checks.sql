-- A list of three or more values after IN, in a CHECK or in an index's WHERE, costs SQLite a
-- table made and filled again for every row written (it never keeps one between rows
-- there): on the jobs, nearly a fifth of SQLite's instructions in a worker's drain.
-- The same conditions are written as comparisons joined by OR, evaluated in place.
--
-- The checks are rewritten in the schema's text, the way SQLite's documentation gives for
-- changing a CHECK that every row already meets ("Making Other Kinds Of Table Schema
-- Changes"): no row is read or moved, whatever the size of the tables. The index of
-- finished jobs is made again (its queries name the same condition: the `finished` fragment).
PRAGMA writable_schema = ON;

UPDATE sqlite_master
SET sql = replace(sql,
    'state IN (''queued'', ''running'', ''succeeded'', ''failed'', ''cancelled'')',
    'state = ''queued'' OR state = ''running'' OR state = ''succeeded'' OR state = ''failed'' OR state = ''cancelled''')
WHERE type = 'table' AND name = 'jobs';

UPDATE sqlite_master
SET sql = replace(sql,
    'outcome IN (''succeeded'', ''failed'', ''lost'', ''timed_out'', ''interrupted'')',
    'outcome = ''succeeded'' OR outcome = ''failed'' OR outcome = ''lost'' OR outcome = ''timed_out'' OR outcome = ''interrupted''')
WHERE type = 'table' AND name = 'job_attempts';

UPDATE sqlite_master
SET sql = replace(sql,
    'status IN (''provisioning'', ''active'', ''suspended'', ''failed'', ''deprovisioned'')',
    'status = ''provisioning'' OR status = ''active'' OR status = ''suspended'' OR status = ''failed'' OR status = ''deprovisioned''')
WHERE type = 'table' AND name = 'projects';

UPDATE sqlite_master
SET sql = replace(sql,
    'status IN (''active'', ''expiring'', ''expired'', ''revoked'')',
    'status = ''active'' OR status = ''expiring'' OR status = ''expired'' OR status = ''revoked''')
WHERE type = 'table' AND name = 'api_keys';

UPDATE sqlite_master
SET sql = replace(sql,
    'state IN (''pending'', ''sent'', ''failed'')',
    'state = ''pending'' OR state = ''sent'' OR state = ''failed''')
WHERE type = 'table' AND name = 'notifications';

UPDATE sqlite_master
SET sql = replace(sql,
    'state IN (''pending'', ''delivered'', ''failed'')',
    'state = ''pending'' OR state = ''delivered'' OR state = ''failed''')
WHERE type = 'table' AND name = 'webhook_deliveries';

UPDATE sqlite_master
SET sql = replace(sql,
    'state IN (''running'', ''completed'', ''failed'', ''pruned'')',
    'state = ''running'' OR state = ''completed'' OR state = ''failed'' OR state = ''pruned''')
WHERE type = 'table' AND name = 'backups';

-- off again, and the schema read again from its rewritten text
PRAGMA writable_schema = RESET;

DROP INDEX jobs_finished;
CREATE INDEX jobs_finished ON jobs (finished_at)
    WHERE state = 'succeeded' OR state = 'failed' OR state = 'cancelled';
