"""The notification outbox: every message to an owner or the operators, written in the
same transaction as the change it reports, with its channel and delivery state."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pjobs.control.noun import Noun

Channel = Literal["log", "telegram"]
DeliveryState = Literal["pending", "sent", "failed"]


@dataclass(frozen=True)
class Notification:
    id: int
    created_at: datetime
    project_id: str | None
    recipient: str
    channel: Channel
    address: str | None
    subject: str
    body: str
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime | None
    sent_at: datetime | None
    last_error: str | None


class Notifications(Noun):
    def insert(
        self, messages: Sequence[tuple[str | None, str, Channel, str | None, str, str]]
    ) -> None:
        """Queue messages: (project, recipient, channel, address, subject, body) each; a
        `log` one counts as sent at once. One round trip however many."""
        now = self.tx.now
        self.tx.run_many(
            "insert_notification",
            [
                {"project_id": project_id, "recipient": recipient, "channel": channel}
                | {"address": address, "subject": subject, "body": body}
                | {
                    "state": "sent" if channel == "log" else "pending",
                    "next_attempt_at": None if channel == "log" else now,
                    "sent_at": now if channel == "log" else None,
                }
                for project_id, recipient, channel, address, subject, body in messages
            ],
        )

    def due(self, limit: int = 100) -> list[Notification]:
        """Pending messages whose next attempt is due, oldest first."""
        return self.tx.records(Notification, "due_notifications", limit=limit)

    def attempted(
        self,
        notification_id: int,
        state: DeliveryState,
        next_attempt_at: datetime | None,
        error: str | None,
    ) -> None:
        """Record a delivery attempt: sent, failed for good, or pending until a retry."""
        self.tx.run(
            "notification_attempted",
            id=notification_id,
            state=state,
            next_attempt_at=next_attempt_at,
            sent_at=self.tx.now if state == "sent" else None,
            last_error=error,
        )

    def list(
        self,
        project_id: str | None = None,
        state: str | None = None,
        limit: int = 1000,
        offset: int = 0,
    ) -> list[Notification]:
        """Messages newest first, optionally of one project and state."""
        return self.tx.records(
            Notification,
            "list_notifications",
            project_id=project_id,
            state=state,
            limit=limit,
            offset=offset,
        )

    def told_since(
        self, recipient: str, project_id: str | None, subject: str, since: datetime
    ) -> bool:
        """Whether `recipient` was told `subject` about the project since `since`."""
        found = self.tx.row(
            "notified_since",
            recipient=recipient,
            project_id=project_id,
            subject=subject,
            since=since,
        )
        return found is not None

    def counts(self) -> dict[str, int]:
        """How many there are, by state."""
        return {r["state"]: int(r["count"]) for r in self.tx.rows("count_notifications")}
