"""Job types from outside pjobs: an installed package's `pjobs.handlers` entry point."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import CLI, cli_env

PLUGIN = """
from pydantic import BaseModel
from pjobs.queue import JobType, RetryPolicy


class Greet(BaseModel):
    name: str


def greet(payload, context):
    return {"greeting": f"hello {payload.name}"}


def register(registry):
    registry.add(JobType("greet", Greet, greet, RetryPolicy(max_attempts=2)))
"""


def test_an_entry_point_adds_a_job_type(tmp_path: Path) -> None:
    site = tmp_path / "site"
    dist = site / "greetplugin-1.0.dist-info"
    dist.mkdir(parents=True)
    (site / "greetplugin.py").write_text(PLUGIN)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: greetplugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[pjobs.handlers]\ngreet = greetplugin:register\n")
    env = cli_env(tmp_path, f"sqlite://{tmp_path}/pjobs.db")
    env["PYTHONPATH"] = f"{site}:{env['PYTHONPATH']}"
    cli = CLI(env, tmp_path / "logs")
    refused = cli("jobs", "enqueue", "greet", "--payload", '{"name": 5}')
    assert refused.returncode == 65 and "name" in refused.stderr
    enqueued = json.loads(cli("jobs", "enqueue", "greet", "-p", '{"name": "ops"}', "--json").stdout)
    assert cli("serve", "--burst").returncode == 0
    job = json.loads(cli("jobs", "show", str(enqueued["id"]), "--json").stdout)
    assert (job["state"], job["max_attempts"], job["result"]) == (
        "succeeded",
        2,
        {"greeting": "hello ops"},
    )
