"""`deliver_webhook`: one attempt of one delivery (an event to an endpoint): signed,
posted to the checked address, recorded; retried with backoff (or when the receiver's
Retry-After says), and counted against the endpoint when it fails for good."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pjobs import ids
from pjobs.adapters.webhooks import Attempt, signed_headers
from pjobs.control import ControlTx
from pjobs.control.webhooks import AttemptMade, Delivery, DeliveryState, Endpoint
from pjobs.domain.events import announce
from pjobs.domain.secretbox import SecretBox
from pjobs.handlers.lifecycle import seed
from pjobs.queue.context import JobContext
from pjobs.queue.jobtypes import Deferred, JobType, PermanentFailure, RetryAfter
from pjobs.queue.retry import RetryPolicy

GONE = 410


class DeliverWebhookPayload(BaseModel):
    """A recorded delivery (`delivery_id`: what pjobs enqueues), or the seed's shape: a
    payload to post to one endpoint of a project (`webhookId`, `projectId`, `url`)."""

    model_config = ConfigDict(extra="forbid")

    delivery_id: str | None = Field(None, pattern=ids.DELIVERY_ID.pattern)
    webhook_id: str | None = Field(
        None, max_length=100, validation_alias=seed("webhook_id", "webhookId")
    )
    project_id: str | None = Field(
        None, pattern=ids.PROJECT_ID.pattern, validation_alias=seed("project_id", "projectId")
    )
    url: str | None = Field(None, max_length=2048)
    payload: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one_shape(self) -> DeliverWebhookPayload:
        seeded = (self.webhook_id, self.project_id, self.url, self.payload)
        if (self.delivery_id is None) == (None in seeded):
            raise ValueError("give delivery_id, or webhookId, projectId, url and payload")
        return self


def deliver_webhook(payload: DeliverWebhookPayload, context: JobContext) -> dict[str, Any]:
    """POSTs the delivery's JSON to its endpoint, signed per Standard Webhooks (the same
    webhook-id on every attempt, a fresh timestamp each), and records the attempt. 2xx
    delivers (and resets the endpoint's failures in a row); 410 disables the endpoint at
    once; anything else is retried with backoff, or after the receiver's Retry-After
    (capped). A delivery that fails for good counts against its endpoint, which is
    disabled after `webhooks.disable_after` in a row (`webhook.disabled`, owner told)."""
    found = context.preloaded
    delivery_id = payload.delivery_id or seed_delivery(payload, context)
    if found is None:  # not read with the claim (`preload`): read it now
        with context.tx(write=False) as tx:
            found = tx.webhooks.delivery_to_send(delivery_id)
    if found is None:
        raise PermanentFailure(f"no webhook delivery {delivery_id}")
    delivery, endpoint = found
    if delivery.state != "pending":
        return outcome(delivery.id, delivery.state, delivery.last_status)  # done before
    if not endpoint.enabled:
        attempt = Attempt(None, 0.0, f"endpoint {endpoint.id} is disabled", None, None)
        finish(context, delivery, endpoint, attempt, gone=False, final=True)
        raise PermanentFailure(attempt.error or "")
    sender = context.integrations.webhooks
    with sender.shares.slot(endpoint.id) as admitted:
        if not admitted:  # a slow endpoint holds its share of the runners: later
            seconds = context.settings.webhooks.timeout_seconds * random.uniform(0.5, 1.0)
            raise Deferred(seconds, f"endpoint {endpoint.id} is slow and holds its runners")
        attempt = sender.post(endpoint.url, headers(context, endpoint, delivery), delivery.body)
    if attempt.succeeded:
        finish(context, delivery, endpoint, attempt, gone=False, final=True)
        return outcome(delivery.id, "delivered", attempt.status)
    gone = attempt.status == GONE
    refused = attempt.error is not None and attempt.error.startswith("refused:")
    final = gone or refused or context.last_attempt
    retry_in = None if final else backoff(context, attempt)
    finish(context, delivery, endpoint, attempt, gone=gone, final=final, retry_in=retry_in)
    error = f"{attempt.error} from {endpoint.id}"
    if retry_in is None:
        raise PermanentFailure(error)
    raise RetryAfter(retry_in, error)


def seed_delivery(payload: DeliverWebhookPayload, context: JobContext) -> str:
    """The delivery a job of the seed's shape makes of its payload, recorded once (its id
    the job's, on every attempt): to the endpoint it names, if that is one of the project's
    and posts to that URL (a job cannot send anywhere else). The event type is the
    payload's `event`, else `webhook.message`."""
    import hashlib

    from pjobs.domain.webhooks import body_of

    delivery_id = "msg_" + hashlib.sha256(f"pjobs-seed:{context.job_id}".encode()).hexdigest()[:24]
    with context.tx() as tx:
        if tx.webhooks.delivery(delivery_id) is not None:
            return delivery_id
        endpoint = tx.webhooks.endpoint(payload.webhook_id or "")
        if endpoint is None or endpoint.project_id != payload.project_id:
            raise PermanentFailure(
                f"no webhook endpoint {payload.webhook_id} of project {payload.project_id}"
            )
        if endpoint.url != payload.url:
            raise PermanentFailure(
                f"webhook endpoint {endpoint.id} posts to its own URL, not {payload.url}"
            )
        data = payload.payload or {}
        event = data.get("event")
        event_type = event if isinstance(event, str) and len(event) <= 100 else "webhook.message"
        tx.webhooks.add_delivery(
            delivery_id, endpoint.id, event_type, body_of(event_type, data, tx.now)
        )
    return delivery_id


def preload(tx: ControlTx, payloads: list[Any]) -> list[tuple[Delivery, Endpoint] | None]:
    """The deliveries and endpoints of claimed `deliver_webhook` jobs, in one statement."""
    ids = [p.get("delivery_id") if isinstance(p, dict) else None for p in payloads]
    found = tx.webhooks.deliveries_to_send([i for i in ids if isinstance(i, str)])
    return [found.get(i) if isinstance(i, str) else None for i in ids]


def headers(context: JobContext, endpoint: Endpoint, delivery: Delivery) -> dict[str, str]:
    box = SecretBox.from_settings(context.settings, create=False)
    now = context.clock.now()
    keys = [box.open(endpoint.secret, endpoint.id)]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and expires > now:
        keys.append(box.open(endpoint.previous_secret, endpoint.id))
    return signed_headers(delivery.id, int(now.timestamp()), delivery.body, keys)


def backoff(context: JobContext, attempt: Attempt) -> float:
    cfg = context.settings.webhooks
    if attempt.retry_after is not None:
        return min(attempt.retry_after, cfg.retry_after_max_seconds)
    policy = RetryPolicy(cfg.max_attempts, cfg.retry_base_seconds, cfg.retry_max_seconds)
    return policy.delay(context.attempt)


def finish(
    context: JobContext,
    delivery: Delivery,
    endpoint: Endpoint,
    attempt: Attempt,
    gone: bool,
    final: bool,
    retry_in: float | None = None,
) -> None:
    """Record the attempt and what follows from it, with the attempt's outcome (on the
    transaction that records it, which the worker shares between the outcomes it records
    at once: the attempts of a batch are one statement)."""
    now = context.clock.now()
    state: DeliveryState = "delivered" if attempt.succeeded else "failed" if final else "pending"
    made: AttemptMade = {
        "id": delivery.id,
        "attempt": delivery.attempts + 1,
        "at": now,
        "state": state,
        "next_attempt_at": None if retry_in is None else now + timedelta(seconds=retry_in),
        "status": attempt.status,
        "latency_ms": round(attempt.latency_ms, 1),
        "error": attempt.error,
        "response": attempt.response,
    }
    context.with_outcome_row(record_attempts, made)
    follows = endpoint.consecutive_failures > 0 if attempt.succeeded else gone or final
    if follows:  # for the endpoint: its failures in a row reset or counted, or it is disabled
        context.with_outcome(lambda tx: follow_up(context, tx, endpoint, attempt, gone, final))


def record_attempts(tx: ControlTx, attempts: list[str]) -> None:
    """The attempts of the outcomes recorded at once (`with_outcome_row`'s write)."""
    tx.webhooks.record_attempts(attempts)


def follow_up(
    context: JobContext,
    tx: ControlTx,
    endpoint: Endpoint,
    attempt: Attempt,
    gone: bool,
    final: bool,
) -> None:
    """What an attempt means for its endpoint: a success resets its failures in a row;
    410 disables it; a delivery failed for good counts, and may disable it."""
    if attempt.succeeded:
        tx.webhooks.reset_failures(endpoint.id)
    elif gone:
        disable(context, tx, endpoint, f"the receiver answered {GONE} Gone")
    elif final:
        failures = tx.webhooks.count_failure(endpoint.id)
        if failures >= context.settings.webhooks.disable_after:
            disable(context, tx, endpoint, f"{failures} deliveries in a row failed")


def disable(context: JobContext, tx: ControlTx, endpoint: Endpoint, reason: str) -> None:
    """Disable the endpoint, if it is still enabled as this transaction sees it (the
    outcomes of a batch share one): `webhook.disabled` once, and its project's owner told
    once (the message goes out with the notifications `serve` sends)."""
    if not tx.webhooks.disable_once(endpoint.id, reason):
        return
    data = {"endpoint_id": endpoint.id, "url": endpoint.url, "reason": reason}
    announce(context, tx, "webhook.disabled", endpoint.project_id, data)
    project = tx.projects.get(endpoint.project_id)
    if project is not None:
        context.notifier.to_owner(
            tx,
            project.owner_id,
            project.id,
            f"Webhook endpoint {endpoint.id} of {project.id} was disabled",
            f"{endpoint.url}: {reason}. Enable it again with `pjobs webhooks enable "
            f"{endpoint.id}`, and replay what it missed with `pjobs webhooks replay`.",
        )


def outcome(delivery_id: str, state: str, status: int | None) -> dict[str, Any]:
    return {"delivery_id": delivery_id, "state": state, "status": status}


JOB_TYPE = JobType(
    "deliver_webhook",
    DeliverWebhookPayload,
    deliver_webhook,
    RetryPolicy(5, 10.0, 3600.0),
    queue="webhooks",
    description="deliver one event to one webhook endpoint, signed",
    preload=preload,
)
