-- API keys: only their SHA-256 and display prefix are stored.
-- Shared by both dialects (:name parameters); rows are read by column name.

-- name: insert_key
INSERT INTO api_keys (id, project_id, kind, version, prefix, secret_hash, status, created_at)
VALUES (:id, :project_id, :kind, :version, :prefix, :secret_hash, 'active', :now);

-- name: get_key
SELECT * FROM api_keys WHERE id = :id;

-- name: key_by_hash
SELECT * FROM api_keys WHERE secret_hash = :secret_hash;

-- name: list_keys
SELECT * FROM api_keys
WHERE project_id = :project_id AND status = coalesce(:status, status)
ORDER BY kind, version;

-- name: last_key_version
SELECT coalesce(max(version), 0) AS version FROM api_keys WHERE project_id = :project_id AND kind = :kind;

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
SELECT * FROM api_keys WHERE status = 'expiring' AND expires_at <= :now ORDER BY expires_at;

-- name: expire_keys
UPDATE api_keys SET status = 'expired'
WHERE status = 'expiring' AND expires_at <= :now
RETURNING id, project_id;

-- name: complete_key_ids
-- Shell completion: the ids of keys still in use that start with what was typed.
SELECT id FROM api_keys
WHERE status IN ('active', 'expiring') AND substr(id, 1, length(:prefix)) = :prefix
ORDER BY id LIMIT :limit;
