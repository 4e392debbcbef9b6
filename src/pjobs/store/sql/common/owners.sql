-- Owners of projects and where their notifications go.
-- Shared by both dialects (:name parameters); rows are read by column name.

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
SELECT * FROM owners WHERE id = :id;

-- name: list_owners
SELECT * FROM owners ORDER BY id LIMIT :limit OFFSET :offset;
