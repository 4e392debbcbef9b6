"""What a change the platform publishes makes, on the handler's transaction: its audit
event (naming who asked), its platform event (`control.events`, the outbox) and a webhook
delivery to every endpoint that wants it (`domain.webhooks.fan_out`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pjobs.domain.webhooks import fan_out

if TYPE_CHECKING:
    from pjobs.control import ControlTx
    from pjobs.queue.context import JobContext


def announce(
    context: JobContext,
    tx: ControlTx,
    event_type: str,
    project_id: str | None,
    data: dict[str, Any],
    target: str | None = None,
) -> None:
    """Record a change the platform publishes: audit event, platform event, deliveries."""
    announce_many(context, tx, event_type, [(project_id, data)], target)


def announce_many(
    context: JobContext,
    tx: ControlTx,
    event_type: str,
    items: Sequence[tuple[str | None, dict[str, Any]]],
    target: str | None = None,
) -> None:
    """`announce` for many projects at once (a few round trips, however many)."""
    changes = [(project_id, target, data) for project_id, data in items]
    tx.audit.append_many(context.actor, event_type, changes, context.job_id)
    tx.events.emit(event_type, items, context.actor, context.job_id)
    fan_out(tx, context.registry, context.settings, event_type, items, context.actor)
