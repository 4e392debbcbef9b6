"""Notifications: every message to an owner or the operators goes into the outbox first
(in the same transaction as the change it reports), then out through its channel.

Channels: `log` (the outbox and pjobs' log are the delivery; sent at once) and `telegram`
(Bot API sendMessage). A failed delivery is recorded and retried with backoff up to
`notifications.max_attempts`; it never fails the job that sent it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Literal

from pjobs.control import ControlPlane, ControlTx
from pjobs.control.notifications import Channel
from pjobs.errors import PjobsError
from pjobs.queue.retry import RetryPolicy

if TYPE_CHECKING:
    from pjobs.adapters.telegram import TelegramBot
    from pjobs.settings.config import Settings
    from pjobs.store import Store
    from pjobs.timeutil import Clock

log = logging.getLogger("pjobs.notify")
OPERATORS = "operators"
OPERATORS_REPEAT = timedelta(minutes=15)  # the same news to the operators, at most this often


class Notifier:
    def __init__(self, store: Store, settings: Settings, clock: Clock, bot: TelegramBot) -> None:
        self.control = ControlPlane(store)
        self.settings, self.clock, self.bot = settings, clock, bot

    def to_owner(
        self, tx: ControlTx, owner_id: str, project_id: str | None, subject: str, body: str
    ) -> None:
        """Queue a message to a project's owner (Telegram if they have a chat id)."""
        self.to_owners(tx, [(owner_id, project_id, subject, body)])

    def to_owners(
        self, tx: ControlTx, messages: Sequence[tuple[str, str | None, str, str]]
    ) -> None:
        """Queue many messages (owner, project, subject, body) in a few round trips."""
        chat_ids = tx.owners.chat_ids(owner for owner, _, _, _ in messages)
        self._queue(tx, [(o, chat_ids.get(o), p, s, b) for o, p, s, b in messages])

    def to_operators(self, tx: ControlTx, project_id: str | None, subject: str, body: str) -> None:
        """Queue a message to the operators (`telegram.operators_chat_id`, else the log);
        the same subject about the same project at most once in OPERATORS_REPEAT (a storm
        of alerts about one project is one message)."""
        if tx.notifications.told_since(OPERATORS, project_id, subject, tx.now - OPERATORS_REPEAT):
            return
        chat_id = self.settings.telegram.operators_chat_id
        self._queue(tx, [(OPERATORS, chat_id, project_id, subject, body)])

    def _queue(
        self, tx: ControlTx, messages: Sequence[tuple[str, str | None, str | None, str, str]]
    ) -> None:
        telegram = self.bot.configured
        rows: list[tuple[str | None, str, Channel, str | None, str, str]] = []
        for recipient, chat_id, project_id, subject, body in messages:
            channel: Channel = "telegram" if chat_id and telegram else "log"
            address = chat_id if channel == "telegram" else None
            rows.append((project_id, recipient, channel, address, subject, body))
            if channel == "log":
                log.info("notification to %s: %s", recipient, subject)
        tx.notifications.insert(rows)

    def deliver_due(self, limit: int = 100) -> tuple[int, int]:
        """Send what is due; returns (sent, still pending or failed). Never raises for a
        delivery problem: each one is recorded on its notification."""
        from pjobs.adapters.telegram import TelegramError

        sent = unsent = 0
        try:
            with self.control.tx(self.clock.now(), write=False) as tx:
                due = tx.notifications.due(limit)
        except PjobsError as exc:
            log.warning("cannot read the notification outbox: %s", exc)
            return 0, 0
        cfg = self.settings.notifications
        backoff = RetryPolicy(cfg.max_attempts, cfg.retry_base_seconds, max_delay=86_400)
        for note in due:
            error: str | None = None
            state: Literal["pending", "sent", "failed"]
            retry_after: float | None = None
            try:
                self.bot.send_message(note.address or "", f"{note.subject}\n\n{note.body}")
            except TelegramError as exc:
                error, retry_after = str(exc), exc.retry_after
            now = self.clock.now()
            attempts = note.attempts + 1
            if error is None:
                state, next_at = "sent", None
                sent += 1
            elif attempts >= cfg.max_attempts:
                state, next_at = "failed", None
                unsent += 1
                log.warning("notification %d failed for good: %s", note.id, error)
            else:
                state = "pending"
                delay = retry_after or backoff.delay(attempts)
                next_at = now + timedelta(seconds=delay)
                unsent += 1
                log.warning("notification %d not sent (%s); retry at %s", note.id, error, next_at)
            with self.control.tx(now) as tx:
                tx.notifications.attempted(note.id, state, next_at, error)
        return sent, unsent
