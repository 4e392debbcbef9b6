"""Webhooks as stored: endpoints (URL, events wanted, signing secret sealed, enabled,
failures in a row), deliveries (one event to one endpoint, the same id on every attempt)
and their attempts."""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal, TypedDict

from pjobs.control.noun import Noun
from pjobs.store.rows import JSON_TEXT

DeliveryState = Literal["pending", "delivered", "failed"]
EVERY_EVENT = "*"


@dataclass(frozen=True)
class Endpoint:
    id: str
    project_id: str
    url: str
    events: Annotated[list[str], JSON_TEXT]
    description: str | None
    secret: str  # sealed (`secretbox`)
    previous_secret: str | None
    previous_secret_expires_at: datetime | None
    enabled: bool
    disabled_reason: str | None
    consecutive_failures: int
    created_at: datetime
    updated_at: datetime

    def wants(self, event_type: str) -> bool:
        return EVERY_EVENT in self.events or event_type in self.events


@dataclass(frozen=True)
class Delivery:
    id: str
    endpoint_id: str
    event_type: str
    body: str
    state: DeliveryState
    attempts: int
    job_id: int | None
    created_at: datetime
    next_attempt_at: datetime | None
    finished_at: datetime | None
    last_status: int | None
    last_error: str | None


@dataclass(frozen=True)
class WebhookAttempt:
    delivery_id: str
    attempt: int
    at: datetime
    status: int | None
    latency_ms: float
    error: str | None
    response: str | None


class AttemptMade(TypedDict):
    """An attempt to record (`Webhooks.record_attempts`), and its delivery's state after it."""

    id: str  # the delivery's
    attempt: int
    at: datetime
    state: DeliveryState
    next_attempt_at: datetime | None
    status: int | None
    latency_ms: float
    error: str | None
    response: str | None


class Webhooks(Noun):
    def add_endpoint(
        self,
        endpoint_id: str,
        project_id: str,
        url: str,
        events: list[str],
        description: str | None,
        sealed_secret: str,
    ) -> None:
        """Add an enabled endpoint."""
        self.tx.run(
            "insert_endpoint",
            id=endpoint_id,
            project_id=project_id,
            url=url,
            events=json.dumps(events),
            description=description,
            secret=sealed_secret,
            enabled=True,
        )

    def endpoint(self, endpoint_id: str) -> Endpoint | None:
        """The endpoint, or None."""
        return self.tx.record(Endpoint, "get_endpoint", id=endpoint_id)

    def endpoints(
        self, project_id: str | None = None, limit: int = 1000, offset: int = 0
    ) -> list[Endpoint]:
        """Endpoints by project, optionally of one project."""
        return self.tx.records(
            Endpoint, "list_endpoints", project_id=project_id, limit=limit, offset=offset
        )

    def subscribers(
        self, project_ids: Iterable[str], event_type: str
    ) -> dict[str, builtins.list[Endpoint]]:
        """The enabled endpoints that want this event, by project (one query)."""
        ids = self.tx.store.array(sorted(set(project_ids)))
        found: dict[str, builtins.list[Endpoint]] = {}
        for endpoint in self.tx.records(Endpoint, "enabled_endpoints_of_projects", ids=ids):
            if endpoint.wants(event_type):
                found.setdefault(endpoint.project_id, []).append(endpoint)
        return found

    def set_enabled(self, endpoint_id: str, enabled: bool, reason: str | None = None) -> None:
        """Enable (failures reset) or disable an endpoint, with why."""
        self.tx.run("set_endpoint_enabled", id=endpoint_id, enabled=enabled, reason=reason)

    def disable_once(self, endpoint_id: str, reason: str) -> bool:
        """Disable an endpoint if it is enabled; whether this call disabled it."""
        return self.tx.row("disable_enabled_endpoint", id=endpoint_id, reason=reason) is not None

    def remove(self, endpoint_id: str) -> None:
        """Remove an endpoint and its deliveries."""
        self.tx.run("delete_endpoint", id=endpoint_id)

    def rotate_secret(self, endpoint_id: str, sealed_secret: str, grace_until: datetime) -> None:
        """A new secret; the old one still signs until `grace_until`."""
        self.tx.run(
            "rotate_endpoint_secret", id=endpoint_id, secret=sealed_secret, expires_at=grace_until
        )

    def count_failure(self, endpoint_id: str) -> int:
        """One more delivery failed for good; how many in a row now (0: the endpoint is
        disabled, and nothing was counted)."""
        row = self.tx.row("count_endpoint_failure", id=endpoint_id)
        return int(row["consecutive_failures"]) if row else 0

    def reset_failures(self, endpoint_id: str) -> None:
        """A delivery succeeded: no failures in a row."""
        self.tx.run("reset_endpoint_failures", id=endpoint_id)

    def add_delivery(self, delivery_id: str, endpoint_id: str, event_type: str, body: str) -> None:
        """A pending delivery of one event to one endpoint."""
        self.tx.run(
            "insert_delivery",
            id=delivery_id,
            endpoint_id=endpoint_id,
            event_type=event_type,
            body=body,
        )

    def set_delivery_job(self, delivery_id: str, job_id: int) -> None:
        """The job that delivers it (now)."""
        self.tx.run("set_delivery_job", id=delivery_id, job_id=job_id)

    def delivery(self, delivery_id: str) -> Delivery | None:
        """The delivery, or None."""
        return self.tx.record(Delivery, "get_delivery", id=delivery_id)

    def deliveries_to_send(
        self, delivery_ids: Sequence[str]
    ) -> dict[str, tuple[Delivery, Endpoint]]:
        """Deliveries and their endpoints by delivery id (one statement, however many);
        the ids not found are left out. An endpoint is read once however many of its
        deliveries there are (a worker reads those it claimed, a thousand at a time)."""
        store = self.tx.store
        found: dict[str, tuple[Delivery, Endpoint]] = {}
        endpoints: dict[str, Endpoint] = {}
        ids = store.array(list(delivery_ids))
        for row in self.tx.packed_rows("get_deliveries_to_send", ids=ids):
            endpoint = endpoints.get(row["e.id"])
            if endpoint is None:
                columns = {name[2:]: value for name, value in row.items() if name[:2] == "e."}
                endpoint = endpoints[row["e.id"]] = store.record(Endpoint, columns)
            found[row["id"]] = (store.record(Delivery, row), endpoint)
        return found

    def delivery_to_send(self, delivery_id: str) -> tuple[Delivery, Endpoint] | None:
        """The delivery and its endpoint, or None."""
        return self.deliveries_to_send([delivery_id]).get(delivery_id)

    def deliveries(
        self,
        endpoint_id: str,
        state: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> builtins.list[Delivery]:
        """An endpoint's deliveries, newest first."""
        return self.tx.records(
            Delivery,
            "list_deliveries",
            endpoint_id=endpoint_id,
            state=state,
            since=since,
            limit=limit,
            offset=offset,
        )

    def record_attempts(self, attempts: builtins.list[str]) -> None:
        """Record attempts, and what their deliveries are now (one statement where the
        dialect allows, however many); each an `AttemptMade` as JSON (`store.outcomes.json_row`)."""
        if "insert_webhook_attempts" in self.tx.store.queries:
            self.tx.run_rows("insert_webhook_attempts", attempts)
        self.tx.run_rows("deliveries_attempted", attempts)

    def reopen(self, delivery_id: str) -> bool:
        """Make a finished delivery pending again (a replay); False if it was pending."""
        return bool(self.tx.run("reopen_delivery", id=delivery_id).rowcount == 1)

    def attempts(self, delivery_id: str) -> builtins.list[WebhookAttempt]:
        """Every attempt of a delivery, oldest first."""
        return self.tx.records(WebhookAttempt, "delivery_attempts", delivery_id=delivery_id)

    def counts(self) -> dict[str, int]:
        """How many there are, by state."""
        return {r["state"]: int(r["count"]) for r in self.tx.rows("count_deliveries")}
