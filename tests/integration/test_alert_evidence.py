"""Monitoring alerts carry their evidence, on both backends: real-format payloads
(Alertmanager v4, Grafana unified alerting with `values`, Datadog's webhook template, the
generic shape) posted over HTTP to the listener, their `auto_suspend` jobs run, and each
decision visible (`alerts show`'s outcome: action, figures, where each came from).
Projects here have no usage in pjobs at all: the alert's figures are all there is."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pjobs.app import App
from pjobs.control import ControlPlane
from pjobs.domain.projects import alert_outcome
from pjobs.settings.config import Settings
from pjobs.store import Store
from support.listener import Post, listening

TOKEN = "a-receiver-token-of-32-characters-at-least"


@pytest.fixture
def received(
    store: Store, make_settings: Callable[..., Settings]
) -> Iterator[Callable[..., tuple[App, Post]]]:
    """receiving(**receiver settings) -> (app, post): a listener serving the App's hooks."""
    opened: list[Any] = []

    def receiving(**receiver: Any) -> tuple[App, Post]:
        settings = make_settings(receiver={"token": TOKEN, **receiver})
        app = App(settings, store=store)
        with ControlPlane(store).tx(app.clock.now()) as tx:
            tx.owners.ensure("owner-1")
            for project in ("proj-123", "proj-456", "proj-789"):
                tx.projects.insert(project, project, "owner-1", "eu", "free")
                tx.projects.set_status(project, "active")
            tx.projects.set_protected("proj-789", True)
        context = listening(app, TOKEN)
        post = context.__enter__()
        opened.append((app, context))
        return app, post

    yield receiving
    for app, context in opened:
        context.__exit__(None, None, None)
        app.close()


def run_jobs(app: App, answer: Any) -> None:
    assert answer.status_code == 202, answer.text
    for job_id in answer.json()["auto_suspend_jobs"]:
        assert app.queue.run_queued(job_id).state == "succeeded"


def status(app: App, project_id: str) -> str:
    with ControlPlane(app.store).tx(app.clock.now(), write=False) as tx:
        found = tx.projects.get(project_id)
    assert found is not None
    return found.status


def outcomes(app: App) -> dict[str, dict[str, Any]]:
    """Each alert's outcome, by its name."""
    with ControlPlane(app.store).tx(app.clock.now(), write=False) as tx:
        return {
            a.name or "": {**alert_outcome(tx, a), "figures": a.metrics} for a in tx.alerts.list()
        }


def alertmanager(name: str, project: str, fingerprint: str, **annotations: str) -> dict[str, Any]:
    """An Alertmanager webhook (payload version 4), one firing alert."""
    labels = {"alertname": name, "project_id": project, "pattern": "excessive_usage"}
    return {
        "version": "4", "groupKey": f'{{}}:{{alertname="{name}"}}', "truncatedAlerts": 0,
        "status": "firing", "receiver": "pjobs", "groupLabels": {"alertname": name},
        "commonLabels": labels, "commonAnnotations": annotations,
        "externalURL": "http://alertmanager:9093",
        "alerts": [{
            "status": "firing", "labels": labels, "annotations": annotations,
            "startsAt": "2026-12-06T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph", "fingerprint": fingerprint,
        }],
    }  # fmt: skip


def grafana(name: str, project: str, share: float, requests: int) -> dict[str, Any]:
    """A Grafana unified alerting webhook: the figures in `values`, named by labels."""
    labels = {
        "alertname": name, "project_id": project, "pattern": "error_spike",
        "metric_B": "error_rate", "metric_C": "requests",
    }  # fmt: skip
    return {
        "receiver": "pjobs", "status": "firing", "orgId": 1, "groupLabels": {},
        "commonLabels": labels, "commonAnnotations": {}, "externalURL": "http://grafana:3000/",
        "version": "1", "groupKey": "{}", "truncatedAlerts": 0, "title": "[FIRING:1]",
        "state": "alerting", "message": "",
        "alerts": [{
            "status": "firing", "labels": labels, "annotations": {"summary": "errors"},
            "startsAt": "2026-12-06T11:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "", "fingerprint": f"f-{name}", "silenceURL": "",
            "dashboardURL": "", "panelURL": "", "values": {"B": share, "C": requests},
            "valueString": f"[ var='B' value={share} ], [ var='C' value={requests} ]",
        }],
    }  # fmt: skip


def test_excessive_usage_at_14x_the_baseline_suspends_and_at_9x_does_not(
    received: Callable[..., tuple[App, Post]],
) -> None:
    app, post = received()
    figures = {"requests_per_minute": "7000", "baseline_requests_per_minute": "500"}
    run_jobs(app, post("alertmanager", alertmanager("Crawler", "proj-123", "a1", **figures)))
    calmer = {"requests_per_minute": "4500", "baseline_requests_per_minute": "500"}
    run_jobs(app, post("alertmanager", alertmanager("Crawler2", "proj-456", "a2", **calmer)))
    assert status(app, "proj-123") == "suspended" and status(app, "proj-456") == "active"
    found = outcomes(app)
    assert found["Crawler"]["action"] == "suspended"
    assert found["Crawler"]["figures"] == {
        "requests_per_minute": 7000.0,
        "baseline_requests_per_minute": 500.0,
    }
    assert found["Crawler"]["sources"]["requests_per_minute"] == "alert"
    assert found["Crawler"]["sources"]["requests"] == "pjobs"  # the rest from pjobs' own
    assert "14.0x the baseline" in found["Crawler"]["reason"]
    assert found["Crawler2"]["action"] == "nothing" and "9.0x" in found["Crawler2"]["reason"]


def test_an_error_spike_of_63_percent_suspends_and_30_percent_does_not(
    received: Callable[..., tuple[App, Post]],
) -> None:
    app, post = received()
    run_jobs(app, post("grafana", grafana("Errors", "proj-123", 0.63, 1000)))
    run_jobs(app, post("grafana", grafana("Errors2", "proj-456", 0.30, 1000)))
    assert status(app, "proj-123") == "suspended" and status(app, "proj-456") == "active"
    found = outcomes(app)
    assert found["Errors"]["action"] == "suspended" and "63% of 1000" in found["Errors"]["reason"]
    assert found["Errors2"]["action"] == "nothing" and "30% of 1000" in found["Errors2"]["reason"]


def test_datadog_and_generic_figures_reach_the_evaluation(
    received: Callable[..., tuple[App, Post]],
) -> None:
    app, post = received(metric_names={"trace.errors.ratio": "error_rate"})
    datadog = {
        "id": "7000000001", "alert_id": "1234", "alert_cycle_key": "cycle-1",
        "alert_transition": "Triggered", "title": "[Triggered] errors on proj-123",
        "alert_metric": "trace.errors.ratio", "value": "0.7",
        "tags": "project_id:proj-123,pattern:error_spike,requests:2000",
    }  # fmt: skip
    run_jobs(app, post("datadog", datadog))
    rates = {"requests_per_minute": 100, "baseline_requests_per_minute": 50}
    generic = {"dedupe_key": "g1", "project_id": "proj-456", "pattern": "excessive_usage"}
    generic |= {"name": "rate", "metrics": rates}
    run_jobs(app, post("generic", generic))
    assert status(app, "proj-123") == "suspended"  # 70 % of 2,000 requests
    assert status(app, "proj-456") == "active"  # 2x its baseline
    assert outcomes(app)["[Triggered] errors on proj-123"]["figures"] == {
        "error_rate": 0.7,
        "requests": 2000.0,
    }


def test_an_alert_without_pattern_or_mapping_suspends_only_when_its_word_is_enough(
    received: Callable[..., tuple[App, Post]],
) -> None:
    app, post = received(policies={"Phishing": "act", "grafana": "record"})
    latency = {"dedupe_key": "l1", "project_id": "proj-123", "name": "HighLatency"}
    answer = post("generic", latency)
    assert answer.status_code == 202 and answer.json()["auto_suspend_jobs"] == []
    phishing = {"dedupe_key": "p1", "project_id": "proj-456", "name": "Phishing"}
    run_jobs(app, post("generic", phishing))
    recorded = post("grafana", grafana("Errors", "proj-123", 0.99, 5000))
    assert recorded.json()["auto_suspend_jobs"] == []  # grafana: record only
    assert status(app, "proj-123") == "active" and status(app, "proj-456") == "suspended"
    found = outcomes(app)
    assert "not evaluated" in found["HighLatency"]["receiver"]
    assert (
        found["Phishing"]["action"] == "suspended" and "policy act" in found["Phishing"]["reason"]
    )
    assert "policy record" in found["Errors"]["receiver"]


def test_a_protected_project_is_reported_never_suspended(
    received: Callable[..., tuple[App, Post]],
) -> None:
    app, post = received(policies={"Phishing": "act"})
    figures = {"requests_per_minute": "9000", "baseline_requests_per_minute": "100"}
    run_jobs(app, post("alertmanager", alertmanager("Crawler", "proj-789", "a9", **figures)))
    run_jobs(
        app, post("generic", {"dedupe_key": "p9", "project_id": "proj-789", "name": "Phishing"})
    )
    assert status(app, "proj-789") == "active"
    found = outcomes(app)
    assert found["Crawler"]["action"] == "protected" and found["Phishing"]["action"] == "protected"


def test_a_queued_auto_suspend_that_does_not_enforce_records_only(
    received: Callable[..., tuple[App, Post]],
) -> None:
    """The seed's enforceAction: false, on a queued job: evaluated and recorded, nothing
    suspended; `abuse list` and the project's timeline show it."""
    from pjobs.domain.projects import timeline

    app, _ = received()
    payload = {"project_id": "proj-123", "pattern": "error_spike", "enforce": False,
               "metrics": {"error_rate": 0.9, "requests": 5000}}  # fmt: skip
    (job,) = app.queue.enqueue_many([("auto_suspend", payload)])
    done = app.queue.run_queued(job.id)
    assert done.state == "succeeded" and done.result["action"] == "not_enforced"
    assert status(app, "proj-123") == "active"
    with ControlPlane(app.store).tx(app.clock.now(), write=False) as tx:
        (detection,) = tx.abuse.list("proj-123")
        events = timeline(tx, "proj-123")
    assert (detection.held, detection.action) == (True, "not_enforced")
    assert detection.sources == {
        "error_rate": "alert", "requests": "alert", "requests_per_minute": "pjobs"
    }  # fmt: skip
    assert [e["what"] for e in events if e["kind"] == "detection"] == [
        "error_spike held: not_enforced"
    ]


def test_one_page_and_one_timeline_tell_a_project_s_story(
    received: Callable[..., tuple[App, Post]], cli: Any
) -> None:
    """Provisioned, warned at 80 % of a quota, suspended by an alert with figures, the
    alert resolved (the owner told how to lift it), resumed: `projects describe` and
    `projects timeline` show each step with its cause, as JSON and on an 80-column
    terminal."""
    import json
    import re

    from support.terminal import on_a_terminal

    def run(*args: str) -> Any:
        done = cli(*args)
        assert done.returncode == 0, (args, done.stderr)
        return json.loads(done.stdout) if "--json" in args else done.stdout

    run("provision", "proj-life", "--name", "Life", "--owner", "o-life", "--json")
    run("quotas", "set", "proj-life", "requests", "1000")
    run("usage", "record", "proj-life", "-m", "requests=850")
    run("check-limits", "--all", "--json")
    (check,) = run("quotas", "checks", "--project", "proj-life", "--json")["checks"]
    (finding,) = check["findings"]
    assert (finding["metric"], finding["percent"], check["warned"]) == ("requests", 85.0, 1)
    app, post = received()
    figures = {"requests_per_minute": "7000", "baseline_requests_per_minute": "500"}
    firing = alertmanager("Crawler", "proj-life", "life1", **figures)
    run_jobs(app, post("alertmanager", firing))
    page = run("projects", "describe", "proj-life", "--json")
    assert page["project"]["status"] == "suspended"
    why = page["suspension"]
    assert why["by"] == "alert:alertmanager" and why["alert"]["name"] == "Crawler"
    assert why["figures"]["requests_per_minute"] == 7000.0 and "14.0x" in why["reason"]
    requests = next(m for m in page["quotas"]["metrics"] if m["metric"] == "requests")
    assert (requests["value"], requests["warned"]) == (850.0, [80])
    assert page["alerts"][0]["outcome"]["action"] == "suspended"
    shown = on_a_terminal(cli, "projects", "describe", "proj-life", columns=80)
    assert "why suspended" in shown and "alert:alertmanager" in shown
    assert "pjobs resume proj-life" in shown and "Crawler" in shown
    resolution = {**firing, "status": "resolved"}
    resolution["alerts"] = [{**firing["alerts"][0], "status": "resolved"}]
    assert post("alertmanager", resolution).status_code == 202
    with ControlPlane(app.store).tx(app.clock.now(), write=False) as tx:
        resolved = next(a for a in tx.alerts.list() if a.status == "resolved")
        told = [n.subject for n in tx.notifications.list("proj-life")]
    assert resolved.action == "resolved; proj-life stays suspended: pjobs resume proj-life"
    assert "The alert behind the suspension of proj-life is resolved" in told
    run("resume", "proj-life")
    events = run("projects", "timeline", "proj-life", "--json")["events"]
    story = [(e["kind"], e["what"]) for e in events]
    wanted = [
        ("audit", "project.provisioned"),
        ("audit", "quota.warning"),
        ("alert", "alert firing: Crawler"),
        ("audit", "project.suspended"),
        ("detection", "excessive_usage held: suspended"),
        ("alert", "alert resolved: Crawler"),
        ("audit", "project.resumed"),
    ]
    assert [step for step in story if step in wanted] == wanted, story
    by = {e["what"]: e["by"] for e in events}
    assert by["project.suspended"] == "alert:alertmanager"
    assert by["quota.warning"] == "schedule:check-limits" or by["quota.warning"]
    terminal = on_a_terminal(cli, "projects", "timeline", "proj-life", columns=80)
    assert "project.resumed" in terminal and "alert firing: Crawler" in terminal
    alerts = on_a_terminal(cli, "--no-color", "alerts", "list", columns=80)
    assert "outcome" in alerts and "suspended" in alerts, alerts  # what came of it: kept
    lines = re.sub(r"\x1b\[[0-9;]*m", "", alerts).splitlines()  # bold is not a color
    assert all(len(line) <= 80 for line in lines), alerts
