-- Named queries of the control plane, shared by both dialects (:name parameters;
-- JSON is stored as text, times as the store's timestamps, booleans as 0/1 or boolean).
-- An optional filter is written `col = coalesce(:param, col)`: PostgreSQL cannot type a
-- bare `:param IS NULL` when the parameter is NULL, and coalesce gives it the column's.

-- name: ensure_owner
INSERT INTO owners (id, email, telegram_chat_id, created_at, updated_at)
VALUES (:id, :email, :telegram_chat_id, :now, :now)
ON CONFLICT (id) DO NOTHING;

-- name: update_owner
UPDATE owners
SET email = coalesce(:email, email),
    telegram_chat_id = coalesce(:telegram_chat_id, telegram_chat_id),
    updated_at = :now
WHERE id = :id;

-- name: get_owner
SELECT id, email, telegram_chat_id, created_at FROM owners WHERE id = :id;

-- name: list_owners
SELECT id, email, telegram_chat_id, created_at FROM owners ORDER BY id LIMIT :limit;

-- name: insert_project
INSERT INTO projects (id, name, owner_id, region, plan, status, created_at, updated_at)
VALUES (:id, :name, :owner_id, :region, :plan, 'provisioning', :now, :now)
ON CONFLICT (id) DO NOTHING;

-- name: get_project
SELECT id, name, owner_id, region, plan, status, suspension_reason, protected,
       tenant_database, failed_step, last_error, created_at, updated_at
FROM projects WHERE id = :id;

-- name: list_projects
SELECT id, name, owner_id, region, plan, status, suspension_reason, protected,
       tenant_database, failed_step, last_error, created_at, updated_at
FROM projects
WHERE status = coalesce(:status, status) AND owner_id = coalesce(:owner_id, owner_id)
ORDER BY id
LIMIT :limit;

-- name: set_project_status
UPDATE projects
SET status = :status, failed_step = :failed_step, last_error = :last_error, updated_at = :now
WHERE id = :id;

-- name: set_tenant_database
UPDATE projects SET tenant_database = :tenant_database, updated_at = :now WHERE id = :id;

-- name: project_steps
SELECT step, outcome, detail, completed_at FROM project_steps
WHERE project_id = :project_id ORDER BY completed_at, step;

-- name: record_step
INSERT INTO project_steps (project_id, step, outcome, detail, completed_at)
VALUES (:project_id, :step, :outcome, :detail, :now)
ON CONFLICT (project_id, step) DO UPDATE
SET outcome = excluded.outcome, detail = excluded.detail, completed_at = excluded.completed_at;

-- name: insert_key
INSERT INTO api_keys (id, project_id, kind, version, prefix, secret_hash, status, created_at)
VALUES (:id, :project_id, :kind, :version, :prefix, :secret_hash, 'active', :now);

-- name: get_key
SELECT id, project_id, kind, version, prefix, status, created_at, expires_at, revoked_at,
       last_used_at, replaced_by
FROM api_keys WHERE id = :id;

-- name: key_by_hash
SELECT id, project_id, kind, version, prefix, status, created_at, expires_at, revoked_at,
       last_used_at, replaced_by
FROM api_keys WHERE secret_hash = :secret_hash;

-- name: list_keys
SELECT id, project_id, kind, version, prefix, status, created_at, expires_at, revoked_at,
       last_used_at, replaced_by
FROM api_keys
WHERE project_id = :project_id AND status = coalesce(:status, status)
ORDER BY kind, version;

-- name: last_key_version
SELECT coalesce(max(version), 0) FROM api_keys WHERE project_id = :project_id AND kind = :kind;

-- name: retire_key
-- The old key of a rotation: still valid until expires_at (or revoked at once).
UPDATE api_keys
SET status = :status, expires_at = :expires_at, replaced_by = :replaced_by,
    revoked_at = CASE WHEN :status = 'revoked' THEN :now END
WHERE id = :id AND status = 'active';

-- name: revoke_project_keys
UPDATE api_keys SET status = 'revoked', revoked_at = :now
WHERE project_id = :project_id AND status IN ('active', 'expiring');

-- name: keys_due_to_expire
SELECT id, project_id, kind, version, prefix, status, created_at, expires_at, revoked_at,
       last_used_at, replaced_by
FROM api_keys WHERE status = 'expiring' AND expires_at <= :now ORDER BY expires_at;

-- name: expire_keys
UPDATE api_keys SET status = 'expired'
WHERE status = 'expiring' AND expires_at <= :now
RETURNING id, project_id;

-- name: insert_audit
INSERT INTO audit_events (at, actor, action, project_id, target, data)
VALUES (:now, :actor, :action, :project_id, :target, :data);

-- name: list_audit
SELECT id, at, actor, action, project_id, target, data FROM audit_events
WHERE coalesce(project_id, '') = coalesce(:project_id, project_id, '')
  AND at >= coalesce(:since, at)
ORDER BY id
LIMIT :limit;

-- name: insert_notification
INSERT INTO notifications (created_at, project_id, recipient, channel, address, subject, body,
                           state, next_attempt_at, sent_at)
VALUES (:now, :project_id, :recipient, :channel, :address, :subject, :body, :state,
        :next_attempt_at, :sent_at)
RETURNING id;

-- name: due_notifications
SELECT id, created_at, project_id, recipient, channel, address, subject, body, state, attempts,
       next_attempt_at, sent_at, last_error
FROM notifications
WHERE state = 'pending' AND next_attempt_at <= :now
ORDER BY id
LIMIT :limit;

-- name: notification_attempted
UPDATE notifications
SET state = :state, attempts = attempts + 1, next_attempt_at = :next_attempt_at,
    sent_at = :sent_at, last_error = :last_error
WHERE id = :id AND state = 'pending';

-- name: list_notifications
SELECT id, created_at, project_id, recipient, channel, address, subject, body, state, attempts,
       next_attempt_at, sent_at, last_error
FROM notifications
WHERE coalesce(project_id, '') = coalesce(:project_id, project_id, '')
  AND state = coalesce(:state, state)
ORDER BY id
LIMIT :limit;
