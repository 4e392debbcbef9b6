"""The enqueue API of `serve --http`: tokens scoped to job types, the payload checked before
anything is written, idempotent repeats, and each token reading the jobs it enqueued."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pjobs.app import App
from pjobs.errors import ConfigError
from pjobs.settings.config import Settings
from pjobs.store import Store
from support.waiting import until

GATEWAY = "g" * 40
OPS = "o" * 40


@pytest.fixture
def api(
    store: Store, make_settings: Callable[..., Settings], tmp_path: Path
) -> Iterator[tuple[App, str]]:
    from pjobs.http.api import api_tokens
    from pjobs.http.metrics import ServeMetrics
    from pjobs.http.server import Listener, build

    for name, token in (("gateway", GATEWAY), ("ops", OPS)):
        (tmp_path / name).write_text(token + "\n")
        (tmp_path / name).chmod(0o600)
    tokens = [
        {"name": "gateway", "token_file": str(tmp_path / "gateway"), "job_types": ["noop"]},
        {"name": "ops", "token_file": str(tmp_path / "ops"), "job_types": ["rotate_key"]},
    ]
    settings = make_settings(receiver={"token": "r" * 40}, api={"tokens": tokens})
    app = App(settings, store=store)
    ready = threading.Event()
    ready.set()
    callers = api_tokens(settings.api, app.registry.names())
    asgi = build(app, {"generic": "r" * 40}, ServeMetrics(app), ready, callers)
    listener = Listener(asgi, "127.0.0.1:0", settings.receiver)
    listener.start()
    until(lambda: listener.server.started, 10, "the listener")
    try:
        yield app, f"http://{listener.address}/api/jobs"
    finally:
        listener.stop(10)


def as_(token: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **headers}


def test_a_token_enqueues_the_types_it_is_scoped_to_and_no_other(api: tuple[App, str]) -> None:
    app, url = api
    made = httpx.post(url, json={"type": "noop", "payload": {}}, headers=as_(GATEWAY))
    assert made.status_code == 201, made.text
    job = app.queue.get(made.json()["id"])
    assert (job.type, job.state, job.requested_by) == ("noop", "queued", "api:gateway")
    refused = httpx.post(
        url, json={"type": "rotate_key", "payload": {"key_id": "key_0123456789abcdef"}},
        headers=as_(GATEWAY),
    )  # fmt: skip
    assert refused.status_code == 403 and "may enqueue noop" in refused.json()["error"]
    provision = {"type": "provision_project", "payload": {"project_id": "p-1"}}
    assert httpx.post(url, json=provision, headers=as_(OPS)).status_code == 403
    assert httpx.post(url, json={"type": "noop"}).status_code == 401
    assert httpx.post(url, json={"type": "noop"}, headers=as_("x" * 40)).status_code == 401
    assert app.queue.stats()["total"] == 1


def test_the_payload_is_checked_before_anything_is_written(api: tuple[App, str]) -> None:
    app, url = api
    bad = httpx.post(
        url, json={"type": "noop", "payload": {"sleep_seconds": "soon"}}, headers=as_(GATEWAY)
    )
    assert bad.status_code == 400
    assert bad.json()["error"].startswith("invalid payload for noop: sleep_seconds:")
    for body in (
        [],
        {"payload": {}},
        {"type": "noop", "priority": "high"},
        {"type": "noop", "x": 1},
    ):
        assert httpx.post(url, json=body, headers=as_(GATEWAY)).status_code == 400, body
    assert httpx.post(url, content=b"{", headers=as_(GATEWAY)).status_code == 400
    assert app.queue.stats()["total"] == 0


def test_a_repeated_idempotency_key_answers_the_same_job(api: tuple[App, str]) -> None:
    app, url = api
    body = {"type": "noop", "payload": {}, "priority": 5}
    first = httpx.post(url, json=body, headers=as_(GATEWAY, **{"Idempotency-Key": "order-9"}))
    again = httpx.post(url, json=body, headers=as_(GATEWAY, **{"Idempotency-Key": "order-9"}))
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"] and again.json()["created"] is False
    assert app.queue.stats()["total"] == 1


def test_a_token_reads_its_own_jobs_state_and_result(api: tuple[App, str]) -> None:
    from support.waiting import worker_for

    app, url = api
    made = httpx.post(url, json={"type": "noop", "payload": {}}, headers=as_(GATEWAY))
    job_id = made.json()["id"]
    queued = httpx.get(f"{url}/{job_id}", headers=as_(GATEWAY))
    assert queued.status_code == 200 and queued.json()["state"] == "queued"
    worker_for(app.queue, burst=True).run()
    done: dict[str, Any] = httpx.get(f"{url}/{job_id}", headers=as_(GATEWAY)).json()
    assert (done["id"], done["state"], done["attempts"]) == (job_id, "succeeded", 1)
    assert done["finished_at"] is not None
    assert httpx.get(f"{url}/{job_id}", headers=as_(OPS)).status_code == 404  # not its job
    assert httpx.get(f"{url}/{job_id}").status_code == 401
    assert httpx.get(f"{url}/999999", headers=as_(GATEWAY)).status_code == 404


def test_tokens_that_cannot_be_trusted_are_refused_at_start(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    from pjobs.http.api import api_tokens

    (tmp_path / "short").write_text("too-short")
    (tmp_path / "good").write_text(GATEWAY)
    for tokens, message in (
        ([{"name": "a", "token_file": str(tmp_path / "short"), "job_types": ["noop"]}], "shorter"),
        ([{"name": "a", "token_file": str(tmp_path / "good"), "job_types": ["nope"]}], "no job"),
        (
            [
                {"name": "a", "token_file": str(tmp_path / "good"), "job_types": ["noop"]},
                {"name": "b", "token_file": str(tmp_path / "good"), "job_types": ["noop"]},
            ],
            "the same token",
        ),
    ):
        settings = make_settings(api={"tokens": tokens})
        with pytest.raises(ConfigError, match=message):
            api_tokens(settings.api, ["noop"])


def test_a_revealed_secret_is_shown_once_to_the_token_that_asked(
    api: tuple[App, str], store: Store
) -> None:
    """A rotation enqueued over HTTP: its new key's secret, which a worker cannot show to
    anyone, is sealed to the enqueuing token, handed out by the first GET, and never
    stored where another could read it."""
    from pjobs.control import ControlPlane
    from pjobs.domain import apikeys
    from support.waiting import worker_for

    app, url = api
    with ControlPlane(store).tx(app.clock.now()) as tx:
        tx.owners.ensure("owner-1")
        tx.projects.insert("proj-k", "K", "owner-1", "eu", "free")
        tx.projects.set_status("proj-k", "active")
        old = apikeys.issue(tx, "proj-k", "secret", apikeys.new_key_id())
    body = {"type": "rotate_key", "payload": {"key_id": old.id}}
    job_id = httpx.post(url, json=body, headers=as_(OPS)).json()["id"]
    worker_for(app.queue, burst=True).run()
    first = httpx.get(f"{url}/{job_id}", headers=as_(OPS)).json()
    assert first["state"] == "succeeded", first
    secret = first["revealed"]["secret_key"]
    new_id = first["result"]["new_key_id"]
    verified = apikeys.verify(store, secret, app.clock.now())
    assert verified.verdict == "valid" and verified.key is not None  # the new key's own
    assert verified.key.id == new_id
    again = httpx.get(f"{url}/{job_id}", headers=as_(OPS)).json()
    assert "revealed" not in again and again["state"] == "succeeded"  # once
    with store.transaction(write=False) as cursor:  # nowhere in the database, in the clear
        for table in ("jobs", "job_attempts", "audit_events", "job_reveals"):
            cursor.execute(f"SELECT * FROM {table}")
            assert secret not in repr(cursor.fetchall()), table
