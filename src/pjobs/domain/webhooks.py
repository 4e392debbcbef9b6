"""Webhook deliveries of platform events: the catalogue of events, the JSON an endpoint
receives, and the fan-out that gives every enabled endpoint subscribed to an event a
delivery and a `deliver_webhook` job, on the transaction that wrote the event (so there is
a delivery if and only if the change happened)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pjobs.errors import InvalidInputError
from pjobs.queue.enqueue import EnqueueOptions, enqueue_on

if TYPE_CHECKING:
    from datetime import timedelta

    from pjobs.adapters.webhooks import WebhookSender
    from pjobs.control import ControlTx
    from pjobs.control.webhooks import Endpoint
    from pjobs.queue.jobtypes import Registry
    from pjobs.settings.config import Settings

EVENTS: dict[str, str] = {
    "project.provisioned": "a project is active: id, name, owner, region, plan",
    "project.deprovisioned": "a project and its database were removed",
    "project.suspended": "a project was suspended: reason, and the pattern or quota",
    "project.resumed": "a suspension was lifted",
    "key.rotated": "an API key has a new version; the old one expires after the grace",
    "key.revoked": "an API key was replaced and revoked at once",
    "quota.warning": "usage reached a threshold of a quota: metric, value, limit, percent",
    "backup.completed": "a backup was stored and verified: id, size, SHA-256",
    "backup.failed": "a backup failed for good",
    "webhook.disabled": "an endpoint was disabled (410, or too many failures in a row)",
    "webhook.test": "a test event sent by an operator (`pjobs deliver-webhook`)",
}
EVERY_EVENT = "*"


def check_event(name: str) -> str:
    """An event type of the catalogue (or `*`); InvalidInputError (65) otherwise."""
    if name != EVERY_EVENT and name not in EVENTS:
        raise InvalidInputError(
            f"unknown event {name[:60]!r} (known: {', '.join(sorted(EVENTS))}, or *)"
        )
    return name


def new_delivery_id() -> str:
    """The webhook-id of a delivery: the same on every attempt and replay of it."""
    return "msg_" + secrets.token_hex(12)


def body_of(event_type: str, data: dict[str, Any], at: Any) -> str:
    """What the endpoint receives: `{"type", "timestamp", "data"}` (Standard Webhooks)."""
    payload = {"type": event_type, "timestamp": at.isoformat(), "data": data}
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)


def enqueue_delivery(
    tx: ControlTx, registry: Registry, settings: Settings, delivery_id: str, actor: str | None
) -> int:
    """A `deliver_webhook` job for a pending delivery, on `tx`; its id."""
    options = EnqueueOptions(
        max_attempts=settings.webhooks.max_attempts,
        idempotency_key=f"webhook:{delivery_id}",
        requested_by=actor,
    )
    items = [("deliver_webhook", {"delivery_id": delivery_id})]
    (job,) = enqueue_on(tx, registry, settings, items, options)
    tx.webhooks.set_delivery_job(delivery_id, job.id)
    return job.id


def deliver(
    tx: ControlTx,
    registry: Registry,
    settings: Settings,
    endpoint_id: str,
    event_type: str,
    data: dict[str, Any],
    actor: str | None,
) -> tuple[str, int]:
    """A new delivery of one event to one endpoint, and its job; (delivery id, job id)."""
    delivery_id = new_delivery_id()
    tx.webhooks.add_delivery(
        delivery_id, endpoint_id, event_type, body_of(event_type, data, tx.now)
    )
    return delivery_id, enqueue_delivery(tx, registry, settings, delivery_id, actor)


def fan_out(
    tx: ControlTx,
    registry: Registry,
    settings: Settings,
    event_type: str,
    items: Sequence[tuple[str | None, dict[str, Any]]],
    actor: str | None,
) -> list[int]:
    """Deliveries of these events to every enabled endpoint that wants them; job ids."""
    subscribers = tx.webhooks.subscribers((p for p, _ in items if p), event_type)
    jobs = []
    for project_id, data in items:
        for endpoint in subscribers.get(project_id or "", []):
            event = {"project_id": project_id, **data}
            jobs.append(deliver(tx, registry, settings, endpoint.id, event_type, event, actor)[1])
    return jobs


def check_endpoint(
    sender: WebhookSender, url: str, events: Sequence[str], secret: str | None
) -> list[str]:
    """Refuse (65) an endpoint a webhook may not call, an unknown event, or a secret that
    is malformed or shorter than 24 bytes; the events it wants, sorted."""
    from pjobs.adapters.webhooks import secret_key_bytes

    sender.check(url)
    if secret is not None:
        secret_key_bytes(secret)
    return sorted({check_event(name) for name in events or [EVERY_EVENT]})


def add_endpoint(
    tx: ControlTx,
    settings: Settings,
    sender: WebhookSender,
    project_id: str,
    url: str,
    events: Sequence[str],
    description: str | None,
    actor: str,
    secret: str | None = None,
) -> tuple[str, str]:
    """Check the URL (SSRF guard), seal a signing secret (new, or the one given), add the
    endpoint and its audit event on `tx`; (endpoint id, secret) — the only time the
    secret leaves pjobs."""
    from pjobs.adapters.webhooks import new_secret
    from pjobs.domain.secretbox import SecretBox

    wanted = check_endpoint(sender, url, events, secret)
    secret = secret or new_secret()
    endpoint_id = "we_" + secrets.token_hex(8)
    sealed = SecretBox.from_settings(settings, create=True).seal(secret, endpoint_id)
    tx.webhooks.add_endpoint(endpoint_id, project_id, url, wanted, description, sealed)
    data = {"url": url, "events": wanted, "description": description}
    tx.audit.append(actor, "webhook.endpoint_added", project_id, f"webhook:{endpoint_id}", data)
    return endpoint_id, secret


def rotate_endpoint_secret(
    tx: ControlTx, settings: Settings, endpoint: Endpoint, grace: timedelta, actor: str
) -> str:
    """A new signing secret for an endpoint; the old one signs too until now + grace."""
    from pjobs.adapters.webhooks import new_secret
    from pjobs.domain.secretbox import SecretBox

    secret = new_secret()
    sealed = SecretBox.from_settings(settings, create=True).seal(secret, endpoint.id)
    until = tx.now + grace
    tx.webhooks.rotate_secret(endpoint.id, sealed, until)
    target = f"webhook:{endpoint.id}"
    tx.audit.append(
        actor, "webhook.secret_rotated", endpoint.project_id, target, {"old_until": until}
    )
    return secret


def switch_endpoint(tx: ControlTx, endpoint: Endpoint, enabled: bool, actor: str) -> bool:
    """Enable or disable an endpoint (audited as webhook.enabled or webhook.disabled);
    False if it already was."""
    if endpoint.enabled == enabled:
        return False
    tx.webhooks.set_enabled(endpoint.id, enabled, None if enabled else f"disabled by {actor}")
    verb = "enabled" if enabled else "disabled"
    tx.audit.append(actor, f"webhook.{verb}", endpoint.project_id, f"webhook:{endpoint.id}")
    return True
