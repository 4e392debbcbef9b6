"""`pjobs.client` is a stable surface for the platform's other Python services: what it
offers, and how each is called, change only on purpose (and with the README)."""

from __future__ import annotations

import inspect

from pjobs import client

SURFACE = {
    "enqueue": (
        "(job_type: 'str', payload: 'Mapping[str, Any]', *, "
        "connection: 'psycopg.Connection[Any] | None' = None, "
        "database_url: 'str | None' = None, queue: 'str | None' = None, "
        "run_at: 'datetime | None' = None, max_attempts: 'int | None' = None, "
        "priority: 'int | None' = None, idempotency_key: 'str | None' = None) -> 'int'"
    ),
    "project_baseline": (
        "(project_id: 'str', *, database_url: 'str | None' = None) -> 'float | None'"
    ),
    "project_details": (
        "(project_id: 'str', *, database_url: 'str | None' = None) -> 'dict[str, Any] | None'"
    ),
    "project_metrics": (
        "(project_id: 'str', *, database_url: 'str | None' = None) -> 'dict[str, float]'"
    ),
    "project_owner": (
        "(project_id: 'str', *, database_url: 'str | None' = None) -> 'dict[str, Any] | None'"
    ),
}


def test_the_client_offers_these_functions_called_so() -> None:
    assert sorted(client.__all__) == sorted(SURFACE)
    for name, signature in SURFACE.items():
        assert str(inspect.signature(getattr(client, name))) == signature, name


def test_importing_the_client_imports_no_driver() -> None:
    import subprocess
    import sys

    code = "import sys; from pjobs import client; print('psycopg' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "False", done.stderr
