"""A real Prometheus Alertmanager (Debian's prometheus-alertmanager; `.ci/run` installs it
when missing) pointed at `pjobs serve --http`, its webhook authenticated by a
credentials_file: an alert pushed to its /api/v2/alerts with figures in its annotations
suspends the project it names, its resolution is recorded (the suspension stands, and the
alert says how to lift it), and the alert Alertmanager sends again is not acted on twice."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import CLI, ON_SQLITE_ONLY, cli_env
from support.listener import free_port
from support.waiting import until

pytestmark = pytest.mark.slow
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
TOKEN = "alertmanager-token-for-tests-of-32-characters"
PATTERN = {"pattern": "excessive_usage"}


@pytest.mark.skipif(ALERTMANAGER is None, reason="prometheus-alertmanager is not installed")
@ON_SQLITE_ONLY
def test_a_real_alertmanager_suspends_once_and_its_resolution_is_recorded(
    tmp_path: Path, backend: str
) -> None:
    assert ALERTMANAGER is not None
    env = {**cli_env(tmp_path, backend), "PJOBS_RECEIVER__TOKEN": TOKEN}
    cli = CLI(env, tmp_path / "logs")
    made = cli("provision", "proj-am", "--name", "AM", "--owner", "o-1")
    assert made.returncode == 0, made.stderr
    pjobs_port, am_port = free_port(), free_port()
    serve = cli.popen("serve", "--http", f"127.0.0.1:{pjobs_port}", "--concurrency", "2")
    (tmp_path / "token").write_text(TOKEN)
    (tmp_path / "alertmanager.yml").write_text(
        json.dumps(
            {
                "route": {
                    "receiver": "pjobs", "group_by": ["alertname", "project_id"],
                    "group_wait": "0s", "group_interval": "1s", "repeat_interval": "2s",
                },
                "receivers": [{
                    "name": "pjobs",
                    "webhook_configs": [{
                        "url": f"http://127.0.0.1:{pjobs_port}/hooks/alertmanager",
                        "send_resolved": True,
                        "http_config": {"authorization": {
                            "type": "Bearer", "credentials_file": str(tmp_path / "token"),
                        }},
                    }],
                }],
            }
        )
    )  # fmt: skip
    log = (tmp_path / "alertmanager.log").open("w")
    alertmanager = subprocess.Popen(
        [ALERTMANAGER, f"--config.file={tmp_path / 'alertmanager.yml'}",
         f"--storage.path={tmp_path / 'am-data'}", f"--web.listen-address=127.0.0.1:{am_port}",
         "--cluster.listen-address="],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{am_port}"

    def push(ends: datetime | None) -> None:
        alert: dict[str, Any] = {
            "labels": {"alertname": "Crawler", "project_id": "proj-am"} | PATTERN,
            "annotations": {"summary": "14x", "requests_per_minute": "7000",
                            "baseline_requests_per_minute": "500"},
            "startsAt": STARTS.isoformat(),
        }  # fmt: skip
        if ends is not None:
            alert["endsAt"] = ends.isoformat()
        answer = httpx.post(f"{base}/api/v2/alerts", json=[alert], timeout=10)
        assert answer.status_code == 200, answer.text

    def state() -> dict[str, Any]:
        shown = json.loads(cli("projects", "describe", "proj-am", "--json").stdout)
        alerts = json.loads(cli("alerts", "list", "--json").stdout)["alerts"]
        return {"status": shown["project"]["status"], "alerts": alerts}

    STARTS = datetime.now(UTC) - timedelta(seconds=5)
    try:
        until(lambda: _answers(f"{base}/-/ready"), 30, "alertmanager to start")
        until(lambda: _answers(f"http://127.0.0.1:{pjobs_port}/healthz"), 30, "serve to listen")
        push(None)
        until(lambda: state()["status"] == "suspended", 60, "the suspension")
        push(None)  # the same alert again; and Alertmanager repeats it every 2 s
        until(lambda: _webhooks_sent(base) >= 3, 60, "Alertmanager to send it again")
        push(datetime.now(UTC))  # resolved
        until(
            lambda: any(a["status"] == "resolved" for a in state()["alerts"]), 60, "the resolution"
        )
        now = state()
        firing = [a for a in now["alerts"] if a["status"] == "firing"]
        resolved = [a for a in now["alerts"] if a["status"] == "resolved"]
        assert len(firing) == 1 and firing[0]["outcome"] == "suspended", firing
        assert resolved[0]["outcome"].startswith("resolved; proj-am stays suspended"), resolved
        assert now["status"] == "suspended"  # a resolution never lifts nor suspends
        jobs = json.loads(cli("jobs", "list", "--type", "auto_suspend", "--json").stdout)["jobs"]
        assert len(jobs) == 1  # acted on once
        detection = json.loads(cli("abuse", "list", "--json").stdout)["detections"][0]
        assert detection["metrics"]["requests_per_minute"] == 7000.0
        assert detection["sources"]["requests_per_minute"] == "alert"
    finally:
        alertmanager.terminate()
        alertmanager.wait(30)
        log.close()
        serve.send_signal(15)
        assert serve.wait(30) == 0, serve.output()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _webhooks_sent(base: str) -> float:
    """How many notifications Alertmanager has sent to webhooks (its own /metrics)."""
    from prometheus_client.parser import text_string_to_metric_families

    page = httpx.get(f"{base}/metrics", timeout=5).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(page)
        if family.name == "alertmanager_notifications"
        for sample in family.samples
        if sample.name.endswith("_total") and sample.labels.get("integration") == "webhook"
    )
