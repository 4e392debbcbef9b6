"""The dashboard of `serve --http` over real HTTP, on both stores: who may look and who may
act, what each page shows, and every action audited with the acting viewer."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from conftest import ON_SQLITE_ONLY
from pjobs.app import App
from pjobs.control import ControlPlane
from pjobs.errors import ConfigError
from pjobs.queue.enqueue import EnqueueOptions
from pjobs.settings.config import Settings
from pjobs.store import Store
from support.listener import serving_dashboard

OPS = "o" * 40  # may act
VIEWER = "v" * 40  # read-only
HOSTILE = '<script>alert("x")</script>'  # a project's name (no control or bidi characters)
HOSTILE_TEXT = HOSTILE + "\u202eevil"  # what a job's payload may hold


def tokens(tmp_path: Path) -> list[dict[str, object]]:
    for name, token in (("ops", OPS), ("viewer", VIEWER)):
        (tmp_path / name).write_text(token + "\n")
        (tmp_path / name).chmod(0o600)
    return [
        {"name": "ops", "token_file": str(tmp_path / "ops"), "actions": True},
        {"name": "viewer", "token_file": str(tmp_path / "viewer")},
    ]


class Dashboard:
    def __init__(self, app: App, base: str, clients: ExitStack) -> None:
        self.app, self.base, self.clients = app, base, clients

    def signed_in(self, token: str) -> httpx.Client:
        """A browser's session: signed in with the token, holding the cookie."""
        client = self.clients.enter_context(httpx.Client(base_url=self.base, timeout=10))
        answer = client.post("/ui/login", data={"token": token})
        assert answer.status_code == 303 and "pjobs_ui" in answer.cookies
        assert token not in answer.headers["set-cookie"]  # a keyed hash of it, not the token
        return client


@pytest.fixture
def ui(store: Store, make_settings: Callable[..., Settings], tmp_path: Path) -> Iterator[Dashboard]:
    settings = make_settings(ui={"tokens": tokens(tmp_path)})
    app = App(settings, store=store)
    with serving_dashboard(app) as base, ExitStack() as clients:
        yield Dashboard(app, base, clients)


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert found, "no action form on the page"
    return found.group(1)


def provision(app: App, project_id: str, name: str = "A project") -> None:
    payload = {"project_id": project_id, "name": name, "owner_id": "owner-1"} | {
        "region": "us-east-1",
        "plan": "free",
    }
    assert app.queue.run_inline("provision_project", payload).state == "succeeded"


def failed_job(app: App, label: str = "x") -> int:
    options = EnqueueOptions(max_attempts=1)
    job = app.queue.run_inline("broken", {"count": 1, "label": label}, options)
    assert job.state == "failed"
    return job.id


def audit_actions(app: App) -> list[tuple[str, str]]:
    with ControlPlane(app.store).tx(app.clock.now()) as tx:
        return [(e.actor, e.action) for e in tx.audit.list(None, None, 100)]


def test_the_pages_need_a_token_and_are_served_with_a_strict_policy(ui: Dashboard) -> None:
    base = ui.base
    assert httpx.get(f"{base}/ui/", timeout=10).headers["location"] == "/ui/login"
    refused = httpx.post(f"{base}/ui/login", data={"token": "x" * 40}, timeout=10)
    assert refused.status_code == 401 and "pjobs_ui" not in refused.cookies
    client = ui.signed_in(VIEWER)
    for path in ("/ui/", "/ui/?window=day", "/ui/jobs", "/ui/projects", "/ui/alerts",
                 "/ui/webhooks", "/ui/backups", "/ui/schedules"):  # fmt: skip
        page = client.get(path)
        assert page.status_code == 200, (path, page.text[:300])
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        assert "<script>" not in page.text.replace('<script src="/ui/static/ui.js" defer>', "")
    bearer = httpx.get(f"{base}/ui/jobs", headers={"Authorization": f"Bearer {OPS}"}, timeout=10)
    assert bearer.status_code == 200  # as a reverse proxy sends it
    client.post("/ui/logout")
    assert client.get("/ui/").status_code == 303


def test_hostile_text_is_escaped_on_every_page_that_shows_it(ui: Dashboard) -> None:
    app = ui.app
    provision(app, "p-1", HOSTILE)
    job = app.queue.run_inline("shaped", {"count": 1, "label": HOSTILE_TEXT})
    client = ui.signed_in(VIEWER)
    for path in ("/ui/projects", "/ui/projects/p-1", f"/ui/jobs/{job.id}"):
        page = client.get(path).text
        assert "&lt;script&gt;alert(" in page, path
        assert "<script>alert" not in page and "\u202e" not in page
    assert "&lt;/script&gt;\\u202eevil" in client.get(f"/ui/jobs/{job.id}").text


def test_a_failed_job_shows_its_traceback_and_actor(ui: Dashboard) -> None:
    app = ui.app
    job_id = failed_job(app)
    client = ui.signed_in(VIEWER)
    listed = client.get("/ui/jobs", params={"state": "failed", "type": "broken"}).text
    assert f'href="/ui/jobs/{job_id}"' in listed
    page = client.get(f"/ui/jobs/{job_id}").text
    assert "Traceback (most recent call last)" in page and "run_broken" in page
    assert 'id="job-actor"' in page
    assert client.get("/ui/jobs", params={"state": "bogus"}).status_code == 400
    assert client.get("/ui/jobs/999999").status_code == 404


@ON_SQLITE_ONLY
def test_read_only_viewers_see_no_action_and_are_refused_one(ui: Dashboard) -> None:
    app = ui.app
    job_id = failed_job(app)
    viewer = ui.signed_in(VIEWER)
    page = viewer.get(f"/ui/jobs/{job_id}").text
    assert 'name="csrf"' not in page
    refused = viewer.post(f"/ui/jobs/{job_id}/retry", data={"csrf": "0" * 64})
    assert refused.status_code == 403 and "read-only" in refused.text
    assert app.queue.get(job_id).state == "failed"
    assert audit_actions(app) == []


@ON_SQLITE_ONLY
def test_an_action_needs_the_forms_csrf_token_and_the_same_origin(ui: Dashboard) -> None:
    app = ui.app
    job_id = failed_job(app)
    ops = ui.signed_in(OPS)
    token = csrf_of(ops.get(f"/ui/jobs/{job_id}").text)
    assert ops.post(f"/ui/jobs/{job_id}/retry", data={"csrf": "0" * 64}).status_code == 403
    foreign = {"Origin": "https://evil.example"}
    assert (
        ops.post(f"/ui/jobs/{job_id}/retry", data={"csrf": token}, headers=foreign).status_code
        == 403
    )
    assert app.queue.get(job_id).state == "failed"
    done = ops.post(f"/ui/jobs/{job_id}/retry", data={"csrf": token, "back": "//evil"})
    assert done.status_code == 200 and "queued again" in done.text
    assert 'href="//evil"' not in done.text
    assert app.queue.get(job_id).state == "queued"
    assert audit_actions(app) == [("ui:ops", "job.retried")]


def test_bulk_retry_confirms_the_count_and_refuses_a_changed_one(ui: Dashboard) -> None:
    app = ui.app
    failed = [failed_job(app, str(n)) for n in range(3)]
    other = app.queue.enqueue("noop", {}).id
    app.queue.cancel(other)
    ops = ui.signed_in(OPS)
    filters = {"state": "failed", "type": "broken"}
    confirm = ops.get("/ui/jobs/bulk", params={**filters, "action": "retry"}).text
    assert 'data-count="3"' in confirm and 'name="action" value="retry"' in confirm
    token = csrf_of(confirm)
    stale = ops.post(
        "/ui/jobs/bulk", data={**filters, "action": "retry", "count": "2", "csrf": token}
    )
    assert stale.status_code == 400 and "3 jobs match now" in stale.text
    assert {app.queue.get(i).state for i in failed} == {"failed"}
    done = ops.post(
        "/ui/jobs/bulk", data={**filters, "action": "retry", "count": "3", "csrf": token}
    )
    assert done.status_code == 200 and "3 failed jobs queued again" in done.text
    assert {app.queue.get(i).state for i in failed} == {"queued"}
    assert app.queue.get(other).state == "cancelled"  # of another state: untouched
    assert audit_actions(app) == [("ui:ops", "jobs.retry")]
    wrong = ops.get("/ui/jobs/bulk", params={"state": "succeeded", "action": "retry"})
    assert wrong.status_code == 400


def test_bulk_cancel_of_queued_jobs_of_one_project(ui: Dashboard) -> None:
    app = ui.app
    mine = [app.queue.enqueue("resume_project", {"project_id": "p-7"}).id for _ in range(2)]
    theirs = app.queue.enqueue("resume_project", {"project_id": "p-8"}).id
    ops = ui.signed_in(OPS)
    filters = {"state": "queued", "project": "p-7"}
    listed = ops.get("/ui/jobs", params=filters).text
    assert all(f'href="/ui/jobs/{i}"' in listed for i in mine)
    assert f'href="/ui/jobs/{theirs}"' not in listed
    confirm = ops.get("/ui/jobs/bulk", params={**filters, "action": "cancel"}).text
    assert 'data-count="2"' in confirm
    data = {**filters, "action": "cancel", "count": "2", "csrf": csrf_of(confirm)}
    assert ops.post("/ui/jobs/bulk", data=data).status_code == 200
    assert [app.queue.get(i).state for i in (*mine, theirs)] == ["cancelled"] * 2 + ["queued"]


def test_a_schedule_an_endpoint_and_a_project_are_acted_on_and_audited(
    ui: Dashboard,
) -> None:
    app = ui.app
    provision(app, "p-2")
    with ControlPlane(app.store).tx(app.clock.now(), True) as tx:
        tx.webhooks.add_endpoint("we_1", "p-2", "https://hooks.example/p-2", [], None, "sealed")
        tx.projects.suspend({"p-2": "test"})
    ops = ui.signed_in(OPS)
    token = csrf_of(ops.get("/ui/schedules").text)
    ran = ops.post("/ui/schedules/check-limits/run", data={"csrf": token})
    assert ran.status_code == 200 and "enqueued check_usage_limits job" in ran.text
    job_id = int(re.findall(r"job (\d+)", ran.text)[0])
    assert app.queue.get(job_id).requested_by == "ui:ops"
    switched = ops.post("/ui/webhooks/we_1/disable", data={"csrf": token})
    assert switched.status_code == 200
    with ControlPlane(app.store).tx(app.clock.now()) as tx:
        found = tx.webhooks.endpoint("we_1")
        assert found is not None and not found.enabled
        assert found.disabled_reason == "disabled by ui:ops"
    resumed = ops.post("/ui/projects/p-2/resume", data={"csrf": token})
    assert resumed.status_code == 200 and "resume_project job" in resumed.text
    resume_id = int(re.findall(r"job (\d+)", resumed.text)[0])
    assert app.queue.run_queued(resume_id).state == "succeeded"
    with ControlPlane(app.store).tx(app.clock.now()) as tx:
        project = tx.projects.get("p-2")
        assert project is not None and project.status == "active"
    actions = audit_actions(app)
    for expected in (("ui:ops", "schedule.run"), ("ui:ops", "webhook.disabled"),
                     ("ui:ops", "project.resumed")):  # fmt: skip
        assert expected in actions, actions
    assert ops.post("/ui/schedules/no-such/run", data={"csrf": token}).status_code == 404


@ON_SQLITE_ONLY
def test_tokens_that_cannot_be_trusted_are_refused_at_start(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    from pjobs.http.ui.access import ui_viewers

    (tmp_path / "short").write_text("too-short")
    (tmp_path / "same").write_text(OPS)
    tokens(tmp_path)
    for entries, message in (
        ([{"name": "a", "token_file": str(tmp_path / "short")}], "32 characters"),
        ([{"name": "a", "token_file": str(tmp_path / "missing")}], "missing"),
        (
            [
                {"name": "a", "token_file": str(tmp_path / "ops")},
                {"name": "b", "token_file": str(tmp_path / "same")},
            ],
            "the same token as a",
        ),
    ):
        with pytest.raises(ConfigError, match=message):
            ui_viewers(make_settings(ui={"tokens": entries}).ui)


@ON_SQLITE_ONLY
def test_a_kept_alive_connections_answers_are_not_held_back(ui: Dashboard) -> None:
    """Each answer of a kept-alive connection (a browser's, a proxy's) goes out at once:
    with Nagle's algorithm on, a body written after its head waited ~40 ms for the
    client's delayed ACK."""
    import socket
    import statistics
    import time
    from urllib.parse import urlsplit

    address = urlsplit(ui.base)
    took = []
    with socket.create_connection((address.hostname, address.port), timeout=10) as connection:
        for _ in range(7):
            started = time.perf_counter()
            connection.sendall(b"GET /ui/login HTTP/1.1\r\nHost: pjobs\r\n\r\n")
            answer = b""
            while b"</html>" not in answer:
                answer += connection.recv(65536)
            took.append(time.perf_counter() - started)
    assert statistics.median(took[1:]) < 0.02, took


def test_a_running_worker_is_seen_alive_until_it_stops(ui: Dashboard) -> None:
    import threading

    from support.waiting import until, worker_for

    app = ui.app
    worker = worker_for(app.queue)
    running = threading.Thread(target=worker.run)
    running.start()
    try:
        until(lambda: [w[0] for w in app.queue.workers_alive()] == [worker.worker_id], 10, "seen")
        page = ui.signed_in(VIEWER).get("/ui/").text
        assert worker.worker_id in page and '<dd id="workers-alive">1</dd>' in page
    finally:
        worker.stop()
        running.join(30)
    assert app.queue.workers_alive() == []  # it said it stopped
