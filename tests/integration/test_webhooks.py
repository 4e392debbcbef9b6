"""Webhooks against real HTTP receivers on loopback, on both backends: signatures a
Standard Webhooks receiver accepts, retries, Retry-After, 410, redirects, timeouts,
auto-disable, replays, secret rotation, fan-out of platform events, the SSRF guard."""

from __future__ import annotations

import ipaddress
import json
import ssl
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks import Webhook

from pjobs.adapters.ssrf import RefusedTarget
from pjobs.app import App
from pjobs.control import ControlPlane
from pjobs.domain.webhooks import add_endpoint, deliver, rotate_endpoint_secret
from pjobs.settings.config import Settings
from pjobs.store import Store
from pjobs.timeutil import FixedClock

KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="  # base64 of 32 bytes


@pytest.fixture
def webhook_settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(
        webhooks={
            "secret_key": KEY,
            "allow_cidrs": ["127.0.0.1/32"],
            "retry_base_seconds": 0.01,
            "retry_max_seconds": 0.05,
            "timeout_seconds": 1.0,
            "max_attempts": 3,
        }
    )


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime.now(UTC))


@pytest.fixture
def app(store: Store, webhook_settings: Settings, clock: FixedClock) -> Iterator[App]:
    built = App(webhook_settings, store=store, clock=clock)
    with ControlPlane(store).tx(clock.now()) as tx:
        tx.owners.ensure("owner-1")
        tx.projects.insert("proj-w", "W", "owner-1", "eu", "free")
        tx.projects.set_status("proj-w", "active")
    yield built
    built.close()


def endpoint(app: App, url: str, events: list[str] | None = None) -> tuple[str, str]:
    with ControlPlane(app.store).tx(app.clock.now()) as tx:
        return add_endpoint(
            tx, app.settings, app.integrations.webhooks, "proj-w", url, events or [], None, "ops"
        )


def send(app: App, endpoint_id: str, data: dict[str, Any] | None = None) -> tuple[str, Any]:
    """A webhook.test delivery, run here to its end; (delivery id, job record)."""
    with ControlPlane(app.store).tx(app.clock.now()) as tx:
        delivery_id, job_id = deliver(
            tx, app.registry, app.settings, endpoint_id, "webhook.test", data or {"n": 1}, "ops"
        )
    return delivery_id, app.queue.run_queued(job_id)


def attempts(app: App, delivery_id: str) -> list[Any]:
    with ControlPlane(app.store).tx(app.clock.now(), write=False) as tx:
        return tx.webhooks.attempts(delivery_id)


def endpoint_state(app: App, endpoint_id: str) -> Any:
    with ControlPlane(app.store).tx(app.clock.now(), write=False) as tx:
        return tx.webhooks.endpoint(endpoint_id)


def verified(secret: str, request: Any) -> Any:
    return Webhook(secret).verify(request.raw, request.headers)


def test_a_delivery_is_signed_as_standard_webhooks_receivers_check(
    app: App, stub_server: Callable[..., Any]
) -> None:
    receiver = stub_server()
    endpoint_id, secret = endpoint(app, receiver.url + "/hooks?x=1")
    delivery_id, job = send(app, endpoint_id, {"hello": "world"})
    assert job.state == "succeeded", job.last_error
    (request,) = receiver.received
    assert request.path == "/hooks?x=1" and request.headers["webhook-id"] == delivery_id
    body = verified(secret, request)
    assert body["type"] == "webhook.test" and body["data"] == {"hello": "world"}
    with pytest.raises(Exception, match="signature"):
        Webhook("whsec_" + KEY).verify(request.raw, request.headers)
    (attempt,) = attempts(app, delivery_id)
    assert attempt.status == 200 and attempt.latency_ms >= 0 and '"ok"' in (attempt.response or "")


def test_500_500_200_is_delivered_on_the_third_attempt_with_one_webhook_id(
    app: App, stub_server: Callable[..., Any]
) -> None:
    receiver = stub_server(script=[(500, {}), (500, {})])
    endpoint_id, secret = endpoint(app, receiver.url)
    delivery_id, job = send(app, endpoint_id)
    assert (job.state, job.attempts) == ("succeeded", 3)
    assert [a.status for a in attempts(app, delivery_id)] == [500, 500, 200]
    assert {r.headers["webhook-id"] for r in receiver.received} == {delivery_id}
    for request in receiver.received:
        verified(secret, request)  # a fresh timestamp and signature on each attempt


def test_retry_after_is_honoured_and_redirects_are_failures(
    app: App, stub_server: Callable[..., Any]
) -> None:
    receiver = stub_server(
        script=[(429, {}, {"Retry-After": "1"}), (302, {}, {"Location": "http://127.0.0.1:1/"})]
    )
    endpoint_id, _ = endpoint(app, receiver.url)
    delivery_id, job = send(app, endpoint_id)
    assert job.state == "succeeded" and job.attempts == 3
    logged = attempts(app, delivery_id)
    assert [a.status for a in logged] == [429, 302, 200]
    assert receiver.received[1].at - receiver.received[0].at >= 1.0  # waited as asked
    assert logged[1].error == "HTTP 302" and len(receiver.received) == 3  # not followed


def test_a_slow_receiver_times_out(app: App, stub_server: Callable[..., Any]) -> None:
    receiver = stub_server(delay=2.0)
    endpoint_id, _ = endpoint(app, receiver.url)
    delivery_id, job = send(app, endpoint_id)
    assert job.state == "failed" and job.attempts == app.settings.webhooks.max_attempts
    first = attempts(app, delivery_id)[0]
    assert first.status is None and "timed out" in (first.error or "")


def test_410_disables_the_endpoint_at_once(app: App, stub_server: Callable[..., Any]) -> None:
    receiver = stub_server(default=(410, {}))
    endpoint_id, _ = endpoint(app, receiver.url)
    _, job = send(app, endpoint_id)
    assert job.state == "failed" and job.attempts == 1
    gone = endpoint_state(app, endpoint_id)
    assert not gone.enabled and "410" in gone.disabled_reason


def test_five_failed_deliveries_disable_the_endpoint_and_tell_the_owner(
    app: App, stub_server: Callable[..., Any]
) -> None:
    receiver = stub_server(default=(503, {}))
    endpoint_id, _ = endpoint(app, receiver.url)
    for n in range(5):
        assert endpoint_state(app, endpoint_id).enabled, n
        assert send(app, endpoint_id)[1].state == "failed"
    disabled = endpoint_state(app, endpoint_id)
    assert not disabled.enabled and "5 deliveries in a row failed" in disabled.disabled_reason
    with ControlPlane(app.store).tx(app.clock.now(), write=False) as tx:
        notes = tx.notifications.list("proj-w")
        events = [e.type for e in tx.events.list("proj-w")]
    assert any("was disabled" in n.subject and n.recipient == "owner-1" for n in notes)
    assert events == ["webhook.disabled"]
    # a success resets the count
    receiver.default = (200, {})
    with ControlPlane(app.store).tx(app.clock.now()) as tx:
        tx.webhooks.set_enabled(endpoint_id, True)
    assert send(app, endpoint_id)[1].state == "succeeded"
    assert endpoint_state(app, endpoint_id).consecutive_failures == 0


def test_replay_one_and_many(app: App, stub_server: Callable[..., Any]) -> None:
    from conftest import CLI, cli_env

    receiver = stub_server(default=(500, {}))
    endpoint_id, secret = endpoint(app, receiver.url)
    failed = [send(app, endpoint_id)[0] for _ in range(2)]
    receiver.default = (200, {})
    receiver.received.clear()
    cli = CLI(
        {
            **cli_env(app.settings.data_dir.parent, app.settings.database_url),
            "PJOBS_WEBHOOKS__SECRET_KEY": KEY,
            "PJOBS_WEBHOOKS__ALLOW_CIDRS": '["127.0.0.1/32"]',
        },
        app.settings.data_dir.parent / "logs",
    )
    one = cli("webhooks", "replay", failed[0], "--json")
    assert one.returncode == 0 and json.loads(one.stdout)["replayed"] == [failed[0]], one.stderr
    many = cli(
        "webhooks", "replay", "--endpoint", endpoint_id, "--since", "1h", "--state", "failed"
    )
    assert many.returncode == 0 and many.stdout.split() == [failed[1]], many.stderr
    assert cli("serve", "--burst").returncode == 0
    assert sorted(r.headers["webhook-id"] for r in receiver.received) == sorted(failed)
    for request in receiver.received:
        verified(secret, request)


def test_rotated_secret_both_sign_during_the_grace_then_only_the_new(
    app: App, clock: FixedClock, stub_server: Callable[..., Any]
) -> None:
    receiver = stub_server()
    endpoint_id, old = endpoint(app, receiver.url)
    with ControlPlane(app.store).tx(clock.now()) as tx:
        found = tx.webhooks.endpoint(endpoint_id)
        assert found is not None
        new = rotate_endpoint_secret(tx, app.settings, found, timedelta(seconds=60), "ops")
    send(app, endpoint_id)
    during = receiver.received[-1]
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    verified(old, during)
    verified(new, during)
    clock.advance(timedelta(seconds=61))
    send(app, endpoint_id)
    after = receiver.received[-1]
    verified(new, after)
    with pytest.raises(Exception, match="signature"):
        verified(old, after)


def test_provisioning_produces_exactly_one_delivery_also_when_retried(
    app: App, stub_server: Callable[..., Any]
) -> None:
    from pjobs.queue.enqueue import EnqueueOptions

    receiver = stub_server()
    auth = stub_server(script=[(500, {})])
    from pjobs.settings.groups import ServiceSettings

    services = app.settings.services.model_copy(update={"auth": ServiceSettings(url=auth.url)})
    settings = app.settings.with_groups(services=services)
    retrying = App(settings, store=app.store, clock=app.clock)
    project = {"project_id": "proj-new", "name": "N", "owner_id": "owner-1"}
    project |= {"region": "eu", "plan": "free"}
    first = retrying.queue.run_inline("provision_project", project, EnqueueOptions(max_attempts=1))
    assert first.state == "failed"  # the project exists, provisioning is to be resumed
    with ControlPlane(app.store).tx(app.clock.now()) as tx:
        add_endpoint(
            tx, settings, retrying.integrations.webhooks, "proj-new", receiver.url,
            ["project.provisioned"], None, "ops",
        )  # fmt: skip
    second = retrying.queue.run_inline("provision_project", project)
    assert second.state == "succeeded", second.last_error
    again = retrying.queue.run_inline("provision_project", project)
    assert again.state == "succeeded"
    jobs = retrying.store.list_jobs(type="deliver_webhook")
    assert len(jobs) == 1
    retrying.queue.run_queued(jobs[0].id)
    (request,) = receiver.received
    assert request.body["type"] == "project.provisioned"
    assert request.body["data"]["project_id"] == "proj-new"
    retrying.close()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://localhost/",
        "http://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://2130706433/",
        "http://0x7f.1/",
        "http://100.64.0.1/",
        "http://[fd00::1]/",
        "http://[64:ff9b::7f00:1]/",
    ],
)
def test_private_targets_are_refused_at_add_and_at_delivery(
    make_settings: Callable[..., Settings], store: Store, url: str
) -> None:
    strict = make_settings(webhooks={"secret_key": KEY})
    app = App(strict, store=store)
    with ControlPlane(store).tx(app.clock.now()) as tx:
        tx.owners.ensure("owner-1")
        tx.projects.insert("proj-w", "W", "owner-1", "eu", "free")
    with pytest.raises(RefusedTarget), ControlPlane(store).tx(app.clock.now()) as tx:
        add_endpoint(tx, strict, app.integrations.webhooks, "proj-w", url, [], None, "ops")
    attempt = app.integrations.webhooks.post(url, {}, "{}")
    assert attempt.status is None and (attempt.error or "").startswith("refused:")
    app.close()


def test_a_name_that_resolves_to_loopback_at_delivery_time_is_refused(
    make_settings: Callable[..., Settings], store: Store, stub_server: Callable[..., Any]
) -> None:
    receiver = stub_server()
    answers = {"hooks.example.com": ["93.184.216.34"]}  # public when the endpoint is added
    strict = make_settings(webhooks={"secret_key": KEY})
    app = App(strict, store=store, resolver=lambda host, port: answers[host])
    with ControlPlane(store).tx(app.clock.now()) as tx:
        tx.owners.ensure("owner-1")
        tx.projects.insert("proj-w", "W", "owner-1", "eu", "free")
        port = receiver.url.rsplit(":", 1)[1]
        endpoint_id, _ = add_endpoint(
            tx, strict, app.integrations.webhooks, "proj-w",
            f"http://hooks.example.com:{port}/", [], None, "ops",
        )  # fmt: skip
    answers["hooks.example.com"] = ["127.0.0.1"]  # and loopback when it is called
    delivery_id, job = send(app, endpoint_id)
    assert job.state == "failed" and job.attempts == 1 and receiver.received == []
    (attempt,) = attempts(app, delivery_id)
    assert "resolves to 127.0.0.1" in (attempt.error or "")
    app.close()


def test_a_name_and_a_path_outside_ascii_are_sent_as_http_wants_them(
    make_settings: Callable[..., Settings], store: Store, stub_server: Callable[..., Any]
) -> None:
    receiver = stub_server()
    settings = make_settings(webhooks={"secret_key": KEY, "allow_cidrs": ["127.0.0.1/32"]})
    app = App(settings, store=store, resolver=lambda host, port: ["127.0.0.1"])
    port = receiver.url.rsplit(":", 1)[1]
    with ControlPlane(store).tx(app.clock.now()) as tx:
        tx.owners.ensure("owner-1")
        tx.projects.insert("proj-w", "W", "owner-1", "eu", "free")
        endpoint_id, _ = add_endpoint(
            tx, settings, app.integrations.webhooks, "proj-w",
            f"http://bücher.example:{port}/wébhook?q=ü&r=%20", [], None, "ops",
        )  # fmt: skip
        with pytest.raises(RefusedTarget, match="not a valid name"):
            add_endpoint(
                tx, settings, app.integrations.webhooks, "proj-w",
                f"http://{'b' * 70}.example/", [], None, "ops",
            )  # fmt: skip
    _, job = send(app, endpoint_id)
    assert job.state == "succeeded", job.last_error
    (request,) = receiver.received
    assert request.path == "/w%C3%A9bhook?q=%C3%BC&r=%20"
    assert request.headers["host"] == f"xn--bcher-kva.example:{port}"
    app.close()


def test_successes_never_count_against_an_endpoint(
    app: App, stub_server: Callable[..., Any]
) -> None:
    receiver = stub_server()
    endpoint_id, _ = endpoint(app, receiver.url)
    for _ in range(app.settings.webhooks.disable_after + 1):
        assert send(app, endpoint_id)[1].state == "succeeded"
    found = endpoint_state(app, endpoint_id)
    assert found.enabled and found.consecutive_failures == 0


@pytest.mark.parametrize(
    ("fresh_seconds", "preload_fails"), [(60.0, False), (0.0, False), (60.0, True)]
)
def test_a_worker_reads_the_deliveries_it_claims_at_once_and_each_only_while_fresh(
    app: App,
    stub_server: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    fresh_seconds: float,
    preload_fails: bool,
) -> None:
    """What a claim read is used while it is fresh (one statement for all the deliveries
    claimed); an attempt that starts later, or whose preload failed, reads its delivery
    itself, and the worker goes on."""
    from dataclasses import replace

    from pjobs.control.webhooks import Webhooks
    from pjobs.queue.attempt import Preloads
    from pjobs.queue.worker import Prefetch, Worker

    receiver = stub_server()
    endpoint_id, secret = endpoint(app, receiver.url + "/hooks")
    with ControlPlane(app.store).tx(app.clock.now()) as tx:
        sent = [
            deliver(tx, app.registry, app.settings, endpoint_id, "webhook.test", {"n": n}, "ops")[0]
            for n in range(12)
        ]
    reads: list[list[str]] = []
    read = Webhooks.deliveries_to_send

    def counted(self: Webhooks, ids: Any) -> Any:
        reads.append(sorted(ids))
        return read(self, ids)

    monkeypatch.setattr(Webhooks, "deliveries_to_send", counted)
    monkeypatch.setattr(Preloads, "FRESH_SECONDS", fresh_seconds)
    if preload_fails:

        def broken(tx: Any, payloads: list[Any]) -> list[Any]:
            reads.append(["preload"])
            raise RuntimeError("a bug in a preload")

        job_type = app.registry.get("deliver_webhook")
        types = vars(app.registry)["_types"]
        monkeypatch.setitem(types, "deliver_webhook", replace(job_type, preload=broken))
    worker = Worker(
        app.store, app.registry, app.settings, app.queue.context_for, app.clock,
        concurrency=2, burst=True,
    )  # fmt: skip
    assert app.settings.worker.prefetch is None  # the default: nothing finished yet, so
    assert 2 + Prefetch.LEAST >= len(sent)  # all are claimed in the first turn
    worker.run()
    assert worker.processed == len(sent) and worker.failed == 0
    assert reads[0] == (["preload"] if preload_fails else sorted(sent))  # with the claim
    # and again one by one when what was read is no longer fresh, or the preload failed
    alone = not fresh_seconds or preload_fails
    assert sorted(reads[1:]) == ([[d] for d in sorted(sent)] if alone else [])
    assert sorted(r.headers["webhook-id"] for r in receiver.received) == sorted(sent)
    for request in receiver.received:
        verified(secret, request)


def test_failures_in_one_batch_of_outcomes_disable_the_endpoint_once(
    store: Store, make_settings: Callable[..., Settings], stub_server: Callable[..., Any]
) -> None:
    """Eight deliveries fail for good in one worker's batch with `disable_after` 2: the
    endpoint is disabled once, `webhook.disabled` emitted once, the owner told once."""
    from pjobs.queue.worker import Worker

    settings = make_settings(
        webhooks={
            "secret_key": KEY, "allow_cidrs": ["127.0.0.1/32"], "max_attempts": 1,
            "disable_after": 2, "timeout_seconds": 5.0,
        },
        worker={"concurrency": 8, "prefetch": 0},
    )  # fmt: skip
    app = App(settings, store=store)
    with ControlPlane(store).tx(app.clock.now()) as tx:
        tx.owners.ensure("owner-1")
        tx.projects.insert("proj-w", "W", "owner-1", "eu", "free")
    receiver = stub_server(default=(500, {}))
    endpoint_id, _ = endpoint(app, receiver.url)
    with ControlPlane(store).tx(app.clock.now()) as tx:
        for n in range(8):
            deliver(tx, app.registry, settings, endpoint_id, "webhook.test", {"n": n}, "ops")
    worker = Worker(store, app.registry, settings, app.queue.context_for, app.clock, burst=True)
    worker.run()
    assert worker.processed == 8 and len(receiver.received) == 8
    with ControlPlane(store).tx(app.clock.now(), write=False) as tx:
        events = [e.type for e in tx.events.list("proj-w")]
        notes = [n for n in tx.notifications.list("proj-w") if "was disabled" in n.subject]
        audit = [e.action for e in tx.audit.list(project_id="proj-w")]
    assert events == ["webhook.disabled"]
    assert len(notes) == 1 and audit.count("webhook.disabled") == 1
    found = endpoint_state(app, endpoint_id)
    assert not found.enabled and found.consecutive_failures == 2
    app.close()


def test_a_receiver_that_trickles_its_answer_is_cut_off_at_the_whole_timeout(
    app: App, stub_server: Callable[..., Any]
) -> None:
    """A byte every 0.2 s never trips a per-read timeout of 1 s; the attempt's whole
    timeout (1 s) ends each attempt anyway."""
    import time

    receiver = stub_server(trickle=0.2)
    endpoint_id, _ = endpoint(app, receiver.url)
    started = time.monotonic()
    delivery_id, job = send(app, endpoint_id)
    assert job.state == "failed" and job.attempts == app.settings.webhooks.max_attempts
    logged = attempts(app, delivery_id)
    assert all(a.status is None and "timed out" in (a.error or "") for a in logged), logged
    assert all(a.latency_ms < 2500 for a in logged), [a.latency_ms for a in logged]
    assert time.monotonic() - started < 3 * 2.5 + 2


def test_a_slow_endpoint_holds_at_most_its_share_of_the_runners(
    store: Store, make_settings: Callable[..., Settings], stub_server: Callable[..., Any]
) -> None:
    """Once an endpoint is slow, a worker of 4 runners sends it at most 2 attempts at once
    while another endpoint's deliveries go on; what waited is put off without using an
    attempt, and delivered in the end."""
    import threading

    from pjobs.queue.worker import Worker
    from support.waiting import until

    settings = make_settings(
        webhooks={
            "secret_key": KEY, "allow_cidrs": ["127.0.0.1/32"], "max_attempts": 3,
            "timeout_seconds": 1.5, "slow_seconds": 0.3,
        },
        worker={"concurrency": 4, "prefetch": 8, "poll_interval": 0.05},
    )  # fmt: skip
    app = App(settings, store=store)
    with ControlPlane(store).tx(app.clock.now()) as tx:
        tx.owners.ensure("owner-1")
        tx.projects.insert("proj-w", "W", "owner-1", "eu", "free")
    slow, fast = stub_server(delay=0.8), stub_server()
    slow_id, _ = endpoint(app, slow.url)
    fast_id, _ = endpoint(app, fast.url)
    assert send(app, slow_id)[1].state == "succeeded"  # 0.8 s: the endpoint is slow now
    slow.most_at_once = 0
    with ControlPlane(store).tx(app.clock.now()) as tx:
        sent = {
            endpoint_id: [
                deliver(tx, app.registry, settings, endpoint_id, "webhook.test", {"n": n}, "ops")
                for n in range(6)
            ]
            for endpoint_id in (slow_id, fast_id)
        }
    worker = Worker(store, app.registry, settings, app.queue.context_for, app.clock)
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        jobs = [job_id for pairs in sent.values() for _, job_id in pairs]
        until(lambda: all(app.queue.get(j).state == "succeeded" for j in jobs), 30, "all sent")
    finally:
        worker.stop()
        thread.join(30)
    assert slow.most_at_once == 2  # its share: half the runners
    assert len(fast.received) == 6
    for delivery_id, job_id in sent[slow_id]:
        job = app.queue.get(job_id)
        assert (job.state, job.attempts) == ("succeeded", 1), job  # put off, not counted
        assert [a.outcome for a in store.job_attempts(job_id)] == ["succeeded"]
        assert [a.status for a in attempts(app, delivery_id)] == [200]
    first_slow_done = min(r.at for r in slow.received[1:]) + 0.8
    assert max(r.at for r in fast.received) < first_slow_done  # never waited behind it
    app.close()


def test_a_job_of_the_seeds_shape_posts_only_to_its_endpoints_own_url(
    app: App, stub_server: Callable[..., Any]
) -> None:
    """{webhookId, projectId, url, payload}: the endpoint must be the project's and have
    that URL (a job cannot send a payload anywhere else); its delivery is recorded once,
    the same on a second run of the job."""
    receiver = stub_server()
    endpoint_id, _ = endpoint(app, receiver.url + "/in")
    seed = {"webhookId": endpoint_id, "projectId": "proj-w", "payload": {"event": "x.y"}}
    elsewhere = app.queue.run_inline("deliver_webhook", {**seed, "url": "http://127.0.0.1:1/"})
    assert elsewhere.state == "failed" and "posts to its own URL" in (elsewhere.last_error or "")
    other = app.queue.run_inline(
        "deliver_webhook", {**seed, "projectId": "proj-other", "url": receiver.url + "/in"}
    )
    assert other.state == "failed" and "no webhook endpoint" in (other.last_error or "")
    assert receiver.received == []
    sent = app.queue.run_inline("deliver_webhook", {**seed, "url": receiver.url + "/in"})
    assert sent.state == "succeeded", sent.last_error
    (posted,) = receiver.received
    assert posted.body["type"] == "x.y" and posted.body["data"] == {"event": "x.y"}


def test_deliveries_read_at_once_each_come_with_their_own_endpoint(app: App) -> None:
    """A worker reads the deliveries it claimed in one statement, each endpoint once."""
    ids = {}
    for url in ("http://127.0.0.1:9/a", "http://127.0.0.1:9/b"):
        endpoint_id, _ = endpoint(app, url)
        with ControlPlane(app.store).tx(app.clock.now()) as tx:
            for _ in range(2):
                delivery_id, _ = deliver(
                    tx, app.registry, app.settings, endpoint_id, "webhook.test", {}, "ops"
                )
                ids[delivery_id] = (endpoint_id, url)
    with ControlPlane(app.store).tx(app.clock.now(), write=False) as tx:
        found = tx.webhooks.deliveries_to_send(list(ids))
    assert {d: (e.id, e.url) for d, (_, e) in found.items()} == ids
    assert all(delivery.endpoint_id == e.id for delivery, e in found.values())


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by its own key: (certificate, key) as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pjobs test receiver")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "receiver.pem", folder / "receiver.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def test_an_https_receiver_is_trusted_only_through_the_trusted_authorities(
    app: App, stub_server: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A receiver's certificate is verified: one no trusted authority signed is refused;
    trusted through SSL_CERT_FILE (as httpx's clients do), it is delivered to."""
    for trusted in ("SSL_CERT_FILE", "SSL_CERT_DIR"):  # the machine's: the default first
        monkeypatch.delenv(trusted, raising=False)
    cert_file, key_file = self_signed(tmp_path)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert_file, key_file)
    receiver = stub_server(tls=tls)
    endpoint_id, secret = endpoint(app, receiver.url + "/hooks")
    _, job = send(app, endpoint_id)
    assert job.state == "failed" and "CERTIFICATE_VERIFY_FAILED" in job.last_error
    assert receiver.received == []

    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))
    trusting = App(app.settings, store=app.store, clock=app.clock)
    try:
        _, job = send(trusting, endpoint_id)
    finally:
        trusting.close()
    assert job.state == "succeeded", job.last_error
    (request,) = receiver.received
    assert verified(secret, request)["type"] == "webhook.test"


def test_a_request_goes_out_in_one_send_when_its_answer_is_read() -> None:
    """httpcore writes a request's head, body and end one by one; the stream of a webhook
    connection sends them together, once, when the answer is first read (one segment on
    the wire, one wake-up of the receiver), and never what a request given up on wrote."""
    import socket

    import httpcore

    from pjobs.adapters.deadline import DeadlineStream

    sends: list[bytes] = []

    class Counted(socket.socket):
        def send(self, data: Any, flags: int = 0) -> int:
            sends.append(bytes(data))
            return super().send(data, flags)

        def sendall(self, data: Any, flags: int = 0) -> None:
            sends.append(bytes(data))
            super().sendall(data, flags)

    ours, theirs = socket.socketpair()
    counted = Counted(ours.family, ours.type, fileno=ours.detach())
    stream = DeadlineStream(httpcore._backends.sync.SyncStream(counted))
    try:
        head, body = b"POST /hooks HTTP/1.1\r\nContent-Length: 9\r\n\r\n", b'{"n": 1}\n'
        for part in (head, body, b""):
            stream.write(part, timeout=1.0)
        assert sends == []
        theirs.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        assert stream.read(1024, timeout=1.0).startswith(b"HTTP/1.1 200")
        assert sends == [head + body]
        assert theirs.recv(1024) == head + body
        stream.write(b"given up on", timeout=1.0)
    finally:
        stream.close()
    assert sends == [head + body] and theirs.recv(1024) == b""
    theirs.close()
