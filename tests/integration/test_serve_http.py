"""`pjobs serve --http` as a real process, over real HTTP: alerts from Alertmanager,
Grafana, Datadog and the generic shape; the bearer token, malformed and oversized bodies;
/metrics against `jobs stats`; /healthz through a database outage."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import CLI, ON_SQLITE_ONLY, Background, cli_env
from support.listener import answers, free_port
from support.waiting import until

pytestmark = pytest.mark.slow
TOKEN = "receiver-token-for-tests-of-32-characters"


@pytest.fixture
def served(tmp_path: Path, backend: str) -> Iterator[tuple[CLI, str, Background]]:
    env = {**cli_env(tmp_path, backend), "PJOBS_RECEIVER__TOKEN": TOKEN}
    env["PJOBS_RECEIVER__PATTERNS"] = '{"HighErrorRate": "error_spike"}'
    cli = CLI(env, tmp_path / "logs")
    for project in ("proj-123", "proj-456"):
        assert cli("provision", project, "--name", "P", "--owner", "o-1").returncode == 0
    base = f"http://127.0.0.1:{free_port()}"
    worker = cli.popen("serve", "--http", base.removeprefix("http://"), "--concurrency", "2")
    until(lambda: answers(base + "/healthz"), what=worker.output())
    yield cli, base, worker
    worker.send_signal(15)
    assert worker.wait(30) == 0, worker.output()


def post(base: str, source: str, body: Any, token: str | None = TOKEN) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(f"{base}/hooks/{source}", content=content, headers=headers, timeout=10)


ALERTMANAGER = {
    "version": "4",
    "groupKey": '{}:{alertname="x"}',
    "status": "firing",
    "receiver": "pjobs",
    "groupLabels": {},
    "commonLabels": {},
    "commonAnnotations": {},
    "externalURL": "http://alertmanager:9093",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "HighErrorRate", "project_id": "proj-123"},
            "annotations": {"summary": "errors over 50 %"},
            "startsAt": "2026-11-29T10:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus/graph",
            "fingerprint": "a1b2c3d4e5f60718",
        },
        {
            "status": "firing",
            "labels": {"alertname": "DiskFull", "instance": "db-1"},
            "annotations": {},
            "startsAt": "2026-11-29T10:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "",
            "fingerprint": "0f0e0d0c0b0a0908",
        },
        {
            "status": "resolved",
            "labels": {"alertname": "Spam", "project_id": "proj-456"},
            "annotations": {},
            "startsAt": "2026-11-29T09:00:00Z",
            "endsAt": "2026-11-29T09:30:00Z",
            "generatorURL": "",
            "fingerprint": "1111111111111111",
        },
    ],
}
GRAFANA = {
    "receiver": "pjobs",
    "status": "firing",
    "orgId": 1,
    "alerts": [
        {
            "status": "firing",
            "labels": {
                "alertname": "Crawler",
                "project_id": "proj-456",
                "pattern": "excessive_usage",
            },
            "annotations": {"summary": "request rate"},
            "startsAt": "2026-11-29T11:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "",
            "fingerprint": "2222222222222222",
            "values": {"A": 5000},
        }
    ],
    "groupLabels": {},
    "commonLabels": {},
    "commonAnnotations": {},
    "externalURL": "http://grafana:3000/",
    "version": "1",
    "groupKey": "{}",
    "truncatedAlerts": 0,
    "title": "[FIRING:1]",
    "state": "alerting",
    "message": "",
}
DATADOG = {
    "id": "7000000001",
    "alert_id": "123456",
    "alert_cycle_key": "cycle-7000000001",
    "alert_transition": "Triggered",
    "title": "[Triggered] suspicious logins",
    "tags": "env:prod,project_id:proj-123,pattern:suspicious_pattern",
}


def alerts(cli: CLI) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(cli("alerts", "list", "--json").stdout)["alerts"]
    return found


def auto_suspend_jobs(cli: CLI) -> list[dict[str, Any]]:
    listed = cli("jobs", "list", "--type", "auto_suspend", "--json")
    jobs: list[dict[str, Any]] = json.loads(listed.stdout)["jobs"]
    return jobs


def test_alerts_from_every_source_act_once(served: tuple[CLI, str, Background]) -> None:
    cli, base, _ = served
    for _ in range(2):  # the same payloads twice: acted on once
        assert post(base, "alertmanager", ALERTMANAGER).status_code == 202
        assert post(base, "grafana", GRAFANA).status_code == 202
        assert post(base, "datadog", DATADOG).status_code == 202
    generic = {"project_id": "proj-456", "pattern": "error_spike", "status": "firing"}
    generic |= {"dedupe_key": "probe-1", "metrics": {"requests": 2000, "errors": 1500}}
    answer = post(base, "generic", generic)
    assert answer.status_code == 202 and len(answer.json()["auto_suspend_jobs"]) == 1
    received = alerts(cli)
    assert sorted((a["source"], a["status"], a["project_id"] or "-") for a in received) == [
        ("alertmanager", "firing", "-"),
        ("alertmanager", "firing", "proj-123"),
        ("alertmanager", "resolved", "proj-456"),
        ("datadog", "firing", "proj-123"),
        ("generic", "firing", "proj-456"),
        ("grafana", "firing", "proj-456"),
    ]
    jobs = auto_suspend_jobs(cli)
    asked = sorted(
        (j["requested_by"], j["payload"]["project_id"], j["payload"]["pattern"]) for j in jobs
    )
    assert asked == [
        ("alert:alertmanager", "proj-123", "error_spike"),  # from receiver.patterns
        ("alert:datadog", "proj-123", "suspicious_pattern"),
        ("alert:generic", "proj-456", "error_spike"),
        ("alert:grafana", "proj-456", "excessive_usage"),
    ]
    until(lambda: all(j["state"] != "queued" for j in auto_suspend_jobs(cli)), what="jobs ran")
    shown = json.loads(cli("projects", "show", "proj-123", "--json").stdout)
    assert shown["status"] == "suspended"  # suspicious_pattern (datadog) holds


def test_bad_requests_are_refused_and_record_nothing(
    served: tuple[CLI, str, Background],
) -> None:
    cli, base, _ = served
    assert post(base, "alertmanager", ALERTMANAGER, token=None).status_code == 401
    assert post(base, "alertmanager", ALERTMANAGER, token="wrong").status_code == 401
    assert post(base, "generic", b"{not json").status_code == 400
    assert post(base, "alertmanager", {"alerts": "no"}).status_code == 400
    assert post(base, "generic", {"project_id": "proj-123"}).status_code == 400  # no key
    assert post(base, "datadog", b"x" * (2 * 1_048_576)).status_code == 413
    assert post(base, "nagios", {}).status_code == 404
    assert alerts(cli) == [] and auto_suspend_jobs(cli) == []


def test_metrics_parse_and_match_jobs_stats(served: tuple[CLI, str, Background]) -> None:
    cli, base, _ = served
    assert cli("jobs", "enqueue", "noop", "--count", "5").returncode == 0
    until(lambda: json.loads(cli("jobs", "stats", "--json").stdout)["states"].get("queued", 0) == 0)
    page = httpx.get(base + "/metrics", timeout=10).text
    families = {f.name: f for f in text_string_to_metric_families(page)}
    counted = {
        (s.labels["type"], s.labels["state"]): s.value for s in families["pjobs_jobs"].samples
    }
    stats = json.loads(cli("jobs", "stats", "--json").stdout)
    expected = {
        (t, state): n for t, states in stats["types"].items() for state, n in states.items()
    }
    assert counted == expected
    assert {"pjobs_queue_lag_seconds", "pjobs_job_duration_seconds", "pjobs_projects"} <= set(
        families
    )
    assert httpx.get(base + "/readyz", timeout=5).json()["ready"] is True
    assert httpx.get(base + "/openapi.json", timeout=5).json()["openapi"].startswith("3.")


def test_healthz_reports_a_database_outage_and_the_worker_recovers(
    tmp_path: Path, pg_database: str
) -> None:
    import psycopg

    from conftest import PG_SERVER

    env = {**cli_env(tmp_path, pg_database), "PJOBS_RECEIVER__TOKEN": TOKEN}
    cli = CLI(env, tmp_path / "logs")
    base = f"http://127.0.0.1:{free_port()}"
    worker = cli.popen("serve", "--http", base.removeprefix("http://"))
    try:
        until(lambda: answers(base + "/healthz"), what=worker.output())
        assert httpx.get(base + "/healthz", timeout=5).status_code == 200
        name = pg_database.rsplit("/", 1)[1]
        assert cli("jobs", "enqueue", "noop", "--count", "50").returncode == 0
        with psycopg.connect(PG_SERVER, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
            )
            until(lambda: httpx.get(base + "/healthz", timeout=5).status_code == 503, what="503")
            for _ in range(3):  # and at once each time, not after the pool's 30 s
                started = time.monotonic()
                assert httpx.get(base + "/healthz", timeout=30).status_code == 503
                assert time.monotonic() - started < 3.5
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        until(lambda: httpx.get(base + "/healthz", timeout=5).status_code == 200, what="200 again")
        assert cli("jobs", "enqueue", "noop", "--count", "50").returncode == 0
        until(
            lambda: (
                json.loads(cli("jobs", "stats", "--json").stdout)["states"] == {"succeeded": 100}
            ),
            what="all jobs done",
        )
    finally:
        worker.send_signal(15)
        assert worker.wait(30) == 0, worker.output()


def test_configuration_mistakes_stop_serve_at_start(tmp_path: Path) -> None:
    cli = CLI(cli_env(tmp_path, f"sqlite://{tmp_path}/pjobs.db"), tmp_path / "logs")
    bad_cron = CLI(
        {
            **cli.env,
            "PJOBS_SCHEDULING__ENABLED": "true",
            "PJOBS_SCHEDULES": '{"x": {"cron": "61 * * * *", "job": "noop"}}',
        },
        cli.logs,
    )
    result = bad_cron("serve", "--schedules", timeout=20)
    assert result.returncode == 78 and "schedule 'x': invalid cron" in result.stderr, result.stderr
    unknown = CLI(
        {**cli.env, "PJOBS_SCHEDULES": '{"y": {"cron": "* * * * *", "job": "nope"}}'}, cli.logs
    )
    result = unknown("serve", "--schedules", timeout=20)
    assert result.returncode == 78 and "unknown job type 'nope'" in result.stderr, result.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        busy = CLI({**cli.env, "PJOBS_RECEIVER__TOKEN": TOKEN}, cli.logs)(
            "serve", "--http", f"127.0.0.1:{port}", timeout=20
        )
    assert busy.returncode == 69 and "cannot listen" in busy.stderr, busy.stderr
    no_token = cli("serve", "--http", "127.0.0.1:0", timeout=20)
    assert no_token.returncode == 78 and "receiver.token" in no_token.stderr
    for result in (busy, no_token):
        assert result.stderr.count("\n") == 1, result.stderr


@ON_SQLITE_ONLY
def test_slow_clients_never_starve_the_listener_nor_the_worker(
    tmp_path: Path, backend: str
) -> None:
    """300 connections that send half a request line and wait, against a serve allowed
    200 open files: /healthz keeps answering at once and jobs keep succeeding (before,
    the listener took every file it could and jobs failed with EMFILE)."""
    import resource
    import subprocess
    import sys

    env = {**cli_env(tmp_path, backend), "PJOBS_RECEIVER__TOKEN": TOKEN}
    env["PJOBS_RECEIVER__READ_TIMEOUT_SECONDS"] = "60"  # the limit must hold, not a timeout
    cli = CLI(env, tmp_path / "logs")
    assert cli("db", "upgrade").returncode == 0
    port = free_port()
    base = f"http://127.0.0.1:{port}"

    def few_files() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (200, 200))

    log = (tmp_path / "serve.log").open("w")
    worker = subprocess.Popen(
        [sys.executable, "-m", "pjobs", "serve", "--http", f"127.0.0.1:{port}"],
        env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=few_files,
    )  # fmt: skip
    slow: list[socket.socket] = []
    try:
        until(lambda: answers(base + "/healthz"), what="serve to listen")
        for _ in range(300):
            client = socket.create_connection(("127.0.0.1", port), timeout=5)
            client.sendall(b"GET /healthz HT")
            slow.append(client)
        for _ in range(5):  # at once (a loaded machine may take a second or two)
            started = time.monotonic()
            assert httpx.get(base + "/healthz", timeout=10).status_code == 200
            assert time.monotonic() - started < 5
        assert cli("jobs", "enqueue", "noop", "--count", "20").returncode == 0
        until(lambda: cli.states() == {"succeeded": 20}, 30, "the jobs to run")
    finally:
        for client in slow:
            client.close()
        worker.send_signal(15)
        code = worker.wait(30)
        log.close()
    assert code == 0, (tmp_path / "serve.log").read_text()
