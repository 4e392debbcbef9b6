"""CI must fail, not skip, when the PostgreSQL it requires is missing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).parent.parent
CLOSED_PORT = "postgresql://postgres@127.0.0.1:1/unreachable"
A_POSTGRES_TEST = "integration/test_store_contract.py::test_list_filters[postgresql]"


def run_pytest(require: bool) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PJOBS_")}
    env["PJOBS_TEST_POSTGRES_URL"] = CLOSED_PORT
    if require:
        env["PJOBS_REQUIRE_POSTGRES"] = "1"
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-n",
            "0",
            A_POSTGRES_TEST,
        ],
        cwd=TESTS,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_required_but_unreachable_server_fails_the_run() -> None:
    result = run_pytest(require=True)
    assert result.returncode != 0, result.stdout
    assert "required here: PJOBS_REQUIRE_POSTGRES=1" in result.stdout + result.stderr


def test_an_optional_unreachable_server_skips_with_the_reason() -> None:
    result = run_pytest(require=False)
    assert result.returncode == 0, result.stdout
    assert "1 skipped" in result.stdout and "not reachable" in result.stdout
