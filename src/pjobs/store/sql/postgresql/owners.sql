-- Owner queries whose SQL is PostgreSQL's own (array parameters).

-- name: owner_chat_ids
SELECT id, telegram_chat_id FROM owners WHERE id = ANY(%(ids)s::text[]);
