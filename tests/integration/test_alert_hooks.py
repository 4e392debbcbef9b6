"""The alert hooks of `serve --http`, served by the real listener on loopback in this
process, on both backends: a malformed request is refused whole (400) and records
nothing; a request over receiver.max_alerts is 413; a storm of alerts about one project
makes one pending auto_suspend, and the operators hear of it once."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from pjobs.app import App
from pjobs.control import ControlPlane
from pjobs.http.alerts import SOURCES
from pjobs.settings.config import Settings
from pjobs.store import Store
from support.waiting import until

TOKEN = "a-receiver-token-of-32-characters-at-least"


@pytest.fixture
def hooks(
    store: Store, make_settings: Callable[..., Settings]
) -> Iterator[tuple[App, Callable[..., httpx.Response]]]:
    """The App and a function that posts a body to a hook of a listener serving it."""
    from support.listener import listening

    settings = make_settings(receiver={"token": TOKEN, "max_alerts": 50})
    app = App(settings, store=store)
    with ControlPlane(store).tx(app.clock.now()) as tx:
        tx.owners.ensure("owner-1")
        for project in ("proj-123", "proj-456"):
            tx.projects.insert(project, project, "owner-1", "eu", "free")
            tx.projects.set_status(project, "active")
    with listening(app, TOKEN) as post:
        yield app, post
    app.close()


def alerts_of(app: App) -> list[Any]:
    with ControlPlane(app.store).tx(app.clock.now(), write=False) as tx:
        return tx.alerts.list()


def generic(n: int, **fields: Any) -> dict[str, Any]:
    return {"dedupe_key": f"k{n}", "project_id": "proj-123", "pattern": "error_spike", **fields}


@pytest.mark.parametrize(
    "body",
    [
        b'{"alerts": [{"dedupe_key": "a", "project_id": "proj-123"},'
        b' {"dedupe_key": "b", "project_id": "proj-123", "metrics": {"error_rate": NaN}}]}',
        b'{"alerts": [{"dedupe_key": "a", "project_id": "proj-123"},'
        b' {"dedupe_key": "b", "project_id": "proj-123", "metrics": {"requests": 1e999}}]}',
        b'{"dedupe_key": "c", "project_id": "proj-123", "metrics": {"requests": Infinity}}',
    ],
    ids=["nan", "overflow", "infinity"],
)
def test_a_request_with_a_number_json_has_not_is_refused_whole(
    hooks: tuple[App, Callable[..., httpx.Response]], body: bytes
) -> None:
    app, post = hooks
    answer = post("generic", body)
    assert answer.status_code == 400, answer.text
    assert alerts_of(app) == [] and app.store.list_jobs() == []


def test_more_alerts_than_a_request_may_carry_are_refused(
    hooks: tuple[App, Callable[..., httpx.Response]],
) -> None:
    app, post = hooks
    answer = post("generic", {"alerts": [generic(n) for n in range(51)]})
    assert answer.status_code == 413 and "receiver.max_alerts" in answer.text
    assert alerts_of(app) == [] and app.store.list_jobs() == []


def test_a_storm_about_one_project_makes_one_pending_auto_suspend(
    hooks: tuple[App, Callable[..., httpx.Response]],
) -> None:
    app, post = hooks
    answer = post("generic", {"alerts": [generic(n) for n in range(40)] + [
        {"dedupe_key": "other", "project_id": "proj-456", "pattern": "error_spike"},
        {"dedupe_key": "other-pattern", "project_id": "proj-123", "pattern": "excessive_usage"},
    ]})  # fmt: skip
    assert answer.status_code == 202, answer.text
    assert answer.json()["new"] == 42 and len(answer.json()["auto_suspend_jobs"]) == 3
    jobs = app.store.list_jobs(type="auto_suspend")
    assert sorted((j.payload["project_id"], j.payload["pattern"]) for j in jobs) == [
        ("proj-123", "error_spike"), ("proj-123", "excessive_usage"), ("proj-456", "error_spike"),
    ]  # fmt: skip
    actions = [a.action for a in alerts_of(app)]
    assert actions.count("auto_suspend already pending") == 39


def test_the_operators_hear_of_a_protected_project_once_in_a_while(
    hooks: tuple[App, Callable[..., httpx.Response]],
) -> None:
    app, _ = hooks
    with ControlPlane(app.store).tx(app.clock.now()) as tx:
        tx.projects.set_protected("proj-123", True)
    payload = {"project_id": "proj-123", "pattern": "suspicious_pattern", "reason": "phish"}
    for _ in range(3):
        assert app.queue.run_inline("auto_suspend", payload).state == "succeeded"
    with ControlPlane(app.store).tx(app.clock.now(), write=False) as tx:
        told = [n for n in tx.notifications.list("proj-123") if n.recipient == "operators"]
    assert len(told) == 1 and "Protected project proj-123" in told[0].subject


def test_the_listener_binds_loopback_unless_told_and_tokens_are_long_and_per_hook(
    store: Store, make_settings: Callable[..., Settings]
) -> None:
    from pydantic import SecretStr

    from pjobs.errors import ConfigError
    from pjobs.http.metrics import ServeMetrics
    from pjobs.http.server import Listener, build, parse_listen, receiver_tokens

    assert parse_listen(":9400") == ("127.0.0.1", 9400)
    assert parse_listen("0.0.0.0:9400") == ("0.0.0.0", 9400)
    assert parse_listen("[::]:9400") == ("::", 9400)
    with pytest.raises(ConfigError, match="shorter than 32"):
        receiver_tokens(make_settings(receiver={"token": "short-token"}).receiver)
    with pytest.raises(ConfigError, match=r"receiver\.tokens\.grafana"):
        receiver_tokens(make_settings(receiver={"tokens": {"alertmanager": TOKEN}}).receiver)
    datadog = "d" * 40
    settings = make_settings(receiver={"token": TOKEN, "tokens": {"datadog": datadog}})
    tokens = receiver_tokens(settings.receiver)
    assert tokens["datadog"] == datadog and tokens["alertmanager"] == TOKEN
    assert isinstance(settings.receiver.tokens["datadog"], SecretStr)
    app = App(settings, store=store)
    ready = threading.Event()
    listener = Listener(build(app, tokens, ServeMetrics(app), ready), ":0", settings.receiver)
    listener.start()
    try:
        assert listener.address.startswith("127.0.0.1:")
        until(lambda: listener.server.started, 10, "the listener")
        base = f"http://{listener.address}/hooks"
        body = {"dedupe_key": "x", "project_id": "proj-nope"}
        as_datadog = {"Authorization": f"Bearer {datadog}"}
        leaked = httpx.post(f"{base}/generic", json=body, headers=as_datadog, timeout=10)
        assert leaked.status_code == 401  # a leaked Datadog token posts as no other hook
        shared = httpx.post(
            f"{base}/datadog", json={}, headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert shared.status_code == 401  # and the shared token not as Datadog
        own = httpx.post(f"{base}/generic", json=body, headers={"Authorization": f"Bearer {TOKEN}"})
        assert own.status_code == 202
    finally:
        listener.stop(10)
        app.close()


def test_the_openapi_document_validates_and_every_example_it_gives_is_accepted(
    hooks: tuple[App, Callable[..., httpx.Response]],
) -> None:
    """/openapi.json is OpenAPI 3 (a well-kept validator says so), and each hook's example
    payload, posted to the listener, is received (202)."""
    from openapi_spec_validator import validate

    from pjobs.http.server import openapi_document

    _, post = hooks
    document = json.loads(openapi_document())
    validate(document)
    hooks_documented = [p for p in document["paths"] if p.startswith("/hooks/")]
    assert sorted(hooks_documented) == sorted(f"/hooks/{s}" for s in SOURCES)
    for path in hooks_documented:
        content = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        for example in content["examples"].values():
            answer = post(path.removeprefix("/hooks/"), example["value"])
            assert answer.status_code == 202, (path, answer.text)
            assert answer.json()["new"] == 1, path
