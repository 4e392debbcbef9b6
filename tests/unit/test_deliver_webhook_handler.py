"""`deliver_webhook` as a function of its payload and context, in this process, with a fixed
clock, SQLite, and a webhook transport of the test's own instead of a receiver (the seam
of `App(webhook_transport=…)`): what the handler decides and records, not HTTP itself
(tests/integration/test_webhooks.py posts to real receivers on loopback)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpcore
import pytest
from standardwebhooks import Webhook

from pjobs.app import App
from pjobs.domain.webhooks import add_endpoint, deliver
from pjobs.settings.config import load_settings
from pjobs.timeutil import FixedClock

KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
NOW = datetime.now(UTC)  # fixed for the test; a receiver checks the timestamp against its own


class ScriptedReceiver:
    """Answers each request with the next (status, body) of its script; keeps them all."""

    def __init__(self, *answers: tuple[int, bytes]) -> None:
        self.answers, self.requests = list(answers), []

    def handle_request(self, request: httpcore.Request) -> httpcore.Response:
        self.requests.append(request)
        status, body = self.answers.pop(0)
        return httpcore.Response(
            status, headers=[(b"content-length", b"%d" % len(body))], content=body
        )


@pytest.fixture
def app_with(tmp_path: Path) -> Iterator[Any]:
    made: list[App] = []

    def make(receiver: ScriptedReceiver, **webhooks: Any) -> App:
        settings = load_settings(
            None, database_url=f"sqlite://{tmp_path}/pjobs.db", data_dir=tmp_path / "data",
            webhooks={"secret_key": KEY, "retry_base_seconds": 0.001, "max_attempts": 3,
                      **webhooks},
        )  # fmt: skip
        app = App(
            settings, clock=FixedClock(NOW), webhook_transport=receiver,
            resolver=lambda host, port: ["93.184.216.34"], create_database=True,
        )  # fmt: skip
        from pjobs.control import ControlPlane

        with ControlPlane(app.store).tx(NOW) as tx:
            tx.owners.ensure("owner-1")
            tx.projects.insert("proj-w", "W", "owner-1", "eu", "free")
        made.append(app)
        return app

    yield make
    for app in made:
        app.close()


def send(app: App) -> tuple[str, str, Any]:
    from pjobs.control import ControlPlane

    with ControlPlane(app.store).tx(NOW) as tx:
        endpoint_id, secret = add_endpoint(
            tx, app.settings, app.integrations.webhooks, "proj-w", "https://hooks.example/in",
            [], None, "ops",
        )  # fmt: skip
        delivery_id, job_id = deliver(
            tx, app.registry, app.settings, endpoint_id, "webhook.test", {"n": 1}, "ops"
        )
    return secret, delivery_id, app.queue.run_queued(job_id)


def test_a_failed_attempt_is_retried_with_the_same_id_and_a_fresh_signature(app_with: Any) -> None:
    receiver = ScriptedReceiver((500, b"busy"), (200, b"ok"))
    app = app_with(receiver)
    secret, delivery_id, job = send(app)
    assert (job.state, job.attempts) == ("succeeded", 2)
    first, second = receiver.requests
    for request in (first, second):
        headers = {k.decode(): v.decode() for k, v in request.headers}
        assert headers["webhook-id"] == delivery_id and headers["host"] == "hooks.example"
        body = b"".join(request.stream)
        Webhook(secret).verify(body, headers)  # a signature Standard Webhooks accepts
    assert first.url.host == b"93.184.216.34"  # sent to the address that was checked


def test_410_disables_the_endpoint_and_the_delivery_fails_for_good(app_with: Any) -> None:
    receiver = ScriptedReceiver((410, b"gone"))
    app = app_with(receiver)
    _, delivery_id, job = send(app)
    assert (job.state, job.attempts) == ("failed", 1)
    from pjobs.control import ControlPlane

    with ControlPlane(app.store).tx(NOW, write=False) as tx:
        (endpoint,) = tx.webhooks.endpoints("proj-w")
        (attempt,) = tx.webhooks.attempts(delivery_id)
    assert not endpoint.enabled and "410" in (endpoint.disabled_reason or "")
    assert attempt.status == 410 and attempt.response == "gone"
