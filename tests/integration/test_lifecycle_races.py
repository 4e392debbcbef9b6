"""Concurrent operators on one project, as separate processes: provision four times at
once, provision racing deprovision. Whatever the interleaving, the project ends with
exactly one key set (one caller shown the secrets) or cleanly deprovisioned, and a second
deprovision always converges."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from conftest import CLI

pytestmark = pytest.mark.slow


def start(cli: CLI, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pjobs", *args],
        env=cli.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err


def project(cli: CLI, project_id: str) -> dict[str, Any]:
    shown = cli("projects", "show", project_id, "--json")
    assert shown.returncode == 0, shown.stderr
    data: dict[str, Any] = json.loads(shown.stdout)
    return data


def audit_actions(cli: CLI, project_id: str) -> list[str]:
    events = json.loads(cli("audit", "list", "--project", project_id, "--json").stdout)
    return [e["action"] for e in events["events"]]


@pytest.fixture
def slow_cli(cli: CLI, stub_server: Callable[..., Any]) -> CLI:
    """The CLI with an auth service that takes a while and serves one caller at a time, so
    concurrent operators pass each step at different moments (the widest race windows)."""
    auth = stub_server(delay=0.3, serial=True)
    return CLI({**cli.env, "PJOBS_SERVICES__AUTH__URL": auth.url}, cli.logs)


def test_four_provisions_at_once_make_one_key_set(slow_cli: CLI) -> None:
    for round_ in range(2):
        project_id = f"proj-race-{round_}"
        args = ("provision", project_id, "--name", "Race", "--owner", "user-1", "--json")
        results = [finish(p) for p in [start(slow_cli, *args) for _ in range(4)]]
        assert [code for code, _, _ in results] == [0, 0, 0, 0], [e for _, _, e in results]
        shown_secrets = [json.loads(out)["secrets"] for _, out, _ in results]
        assert sum(1 for s in shown_secrets if s) == 1, shown_secrets
        data = project(slow_cli, project_id)
        assert data["status"] == "active"
        assert sorted((k["kind"], k["status"]) for k in data["keys"]) == [
            ("publishable", "active"),
            ("secret", "active"),
        ]
        actions = audit_actions(slow_cli, project_id)
        assert actions.count("project.provisioned") == 1 and actions.count("key.created") == 2


def reached(cli: CLI, project_id: str, steps: int) -> Callable[[], bool]:
    """Whether the project exists with at least `steps` of its provisioning recorded."""

    def check() -> bool:
        shown = cli("projects", "show", project_id, "--json")
        return shown.returncode == 0 and len(json.loads(shown.stdout).get("steps", [])) >= steps

    return check


def test_provision_racing_deprovision_always_converges(slow_cli: CLI) -> None:
    """Deprovision starts at once, once the project exists, and once provisioning has
    recorded its first steps: three interleavings, chosen by what happened, not by time."""
    from support.waiting import until

    for round_, steps in enumerate((None, 0, 2)):
        project_id = f"proj-mixed-{round_}"
        provision = start(
            slow_cli, "provision", project_id, "--name", "Mixed", "--owner", "user-1", "--json"
        )
        if steps is not None:
            until(reached(slow_cli, project_id, steps), 60, f"{project_id} at step {steps}")
        deprovision = start(slow_cli, "deprovision", project_id, "--yes", "--json")
        p_code, p_out, p_err = finish(provision)
        d_code, _, d_err = finish(deprovision)
        assert p_code in (0, 65), p_err
        assert d_code in (0, 4), d_err  # 4: it asked before the project existed
        data = project(slow_cli, project_id)
        if data["status"] == "active":
            assert d_code == 4
            assert len([k for k in data["keys"] if k["status"] == "active"]) == 2
        else:
            assert data["status"] == "deprovisioned"
            assert all(k["status"] == "revoked" for k in data["keys"])
        again = slow_cli("deprovision", project_id, "--yes")
        assert again.returncode == 0, again.stderr
        final = project(slow_cli, project_id)
        assert final["status"] == "deprovisioned" and final["tenant_database"] is None
        assert all(k["status"] == "revoked" for k in final["keys"])
        if p_code == 0:
            for secret in json.loads(p_out)["secrets"].values():
                verdict = slow_cli("keys", "verify", input=secret)
                assert verdict.returncode == 12, verdict.stdout  # revoked
