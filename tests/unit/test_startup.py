"""Start-up is a feature: `pjobs --help` and completion load no heavy module."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("psycopg", "psycopg_pool", "httpx", "apscheduler", "pydantic", "pydantic_settings")


def test_importing_the_cli_loads_no_heavy_module() -> None:
    code = (
        "import sys, json, pjobs.cli; "
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert json.loads(loaded.stdout) == []


def test_help_and_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pjobs", "--help"], capture_output=True, text=True, check=True
    )
    assert "Exit codes" in result.stdout and "jobs" in result.stdout
    version = subprocess.run(
        [sys.executable, "-m", "pjobs", "--version"], capture_output=True, text=True, check=True
    )
    assert version.stdout.startswith("pjobs ")
