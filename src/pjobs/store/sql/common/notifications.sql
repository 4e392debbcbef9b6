-- The notification outbox.
-- Shared by both dialects (:name parameters); rows are read by column name.

-- name: insert_notification
INSERT INTO notifications (created_at, project_id, recipient, channel, address, subject, body,
                           state, next_attempt_at, sent_at)
VALUES (:now, :project_id, :recipient, :channel, :address, :subject, :body, :state,
        :next_attempt_at, :sent_at);

-- name: due_notifications
SELECT * FROM notifications
WHERE state = 'pending' AND next_attempt_at <= :now
ORDER BY id
LIMIT :limit;

-- name: notification_attempted
UPDATE notifications
SET state = :state, attempts = attempts + 1, next_attempt_at = :next_attempt_at,
    sent_at = :sent_at, last_error = :last_error
WHERE id = :id AND state = 'pending';

-- name: list_notifications
SELECT * FROM notifications
WHERE coalesce(project_id, '') = coalesce(:project_id, project_id, '')
  AND state = coalesce(:state, state)
ORDER BY id DESC
LIMIT :limit OFFSET :offset;

-- name: count_notifications
SELECT state, count(*) AS count FROM notifications GROUP BY state;

-- name: notified_since
-- Whether a recipient was sent (or is to be sent) this subject about this project since a time.
SELECT 1 AS found FROM notifications
WHERE recipient = :recipient AND coalesce(project_id, '') = coalesce(:project_id, '')
  AND subject = :subject AND created_at >= :since
LIMIT 1;
