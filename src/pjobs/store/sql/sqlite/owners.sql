-- Owner queries whose SQL is SQLite's own (JSON parameters).

-- name: owner_chat_ids
SELECT id, telegram_chat_id FROM owners WHERE id IN (SELECT value FROM json_each(:ids));
