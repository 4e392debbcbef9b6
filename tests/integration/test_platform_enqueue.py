"""The platform enqueues in its own transactions, from any language: `pjobs_enqueue()` in
SQL (made and given its job types by `pjobs db upgrade`), `psql`, and `pjobs.client`."""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from conftest import CLI, cli_env, require_psql
from pjobs import client
from pjobs.errors import InvalidInputError
from support.waiting import until

ENQUEUE = "SELECT pjobs_enqueue(%s, %s::jsonb)"


@pytest.fixture
def platform(tmp_path: Path, pg_database: str) -> Iterator[tuple[CLI, str]]:
    """A database `pjobs db upgrade` made current (its job types recorded), and the CLI."""
    cli = CLI(cli_env(tmp_path, pg_database), tmp_path / "logs")
    upgraded = cli("db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    yield cli, pg_database


def jobs(url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT id, type, state, attempts, queue, max_attempts, requested_by, last_error "
            "FROM jobs ORDER BY id"
        ).fetchall()


def test_a_job_exists_if_and_only_if_the_caller_commits(platform: tuple[CLI, str]) -> None:
    _, url = platform
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE gateway_projects (id text PRIMARY KEY)")
        conn.execute("INSERT INTO gateway_projects VALUES ('p-1')")
        conn.execute(ENQUEUE, ("noop", "{}"))
        conn.rollback()
    assert jobs(url) == []
    with psycopg.connect(url) as conn:  # committed when the block ends
        (job_id,) = conn.execute(ENQUEUE, ("noop", "{}")).fetchone() or ()
    ((found, kind, state, attempts, queue, max_attempts, requested_by, _),) = jobs(url)
    assert (found, kind, state, attempts) == (job_id, "noop", "queued", 0)
    assert queue == "default" and max_attempts == 1  # the type's defaults, as the CLI's
    assert requested_by == "sql:postgres"


def test_unknown_types_and_options_out_of_range_are_refused_by_the_function(
    platform: tuple[CLI, str],
) -> None:
    _, url = platform
    with psycopg.connect(url) as conn:
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="unknown job type 'nope'"):
            conn.execute(ENQUEUE, ("nope", "{}"))
        conn.rollback()
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="expected a JSON object"):
            conn.execute(ENQUEUE, ("noop", "[1]"))
        conn.rollback()
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="max attempts"):
            conn.execute("SELECT pjobs_enqueue('noop', '{}', max_attempts => 0)")
    assert jobs(url) == []


def test_an_invalid_payload_fails_when_claimed_for_good_naming_its_field(
    platform: tuple[CLI, str], tmp_path: Path
) -> None:
    from pjobs.app import App
    from pjobs.http.metrics import ServeMetrics
    from pjobs.queue.worker import Worker
    from pjobs.settings.config import load_settings

    _, url = platform
    with psycopg.connect(url) as conn:
        payload = json.dumps({"sleep_seconds": "soon"})
        conn.execute("SELECT pjobs_enqueue('noop', %s::jsonb, max_attempts => 5)", (payload,))
    app = App(load_settings(None, database_url=url, data_dir=tmp_path / "data"))
    try:
        metrics = ServeMetrics(app)
        worker = Worker(
            app.store, app.registry, app.settings, app.queue.context_for, app.clock,
            burst=True, observer=metrics,
        )  # fmt: skip
        worker.run()
        counted = metrics.exposition().decode()
    finally:
        app.close()
    ((_, _, state, attempts, _, _, _, error),) = jobs(url)
    assert (state, attempts) == ("failed", 1)  # no retries, though 5 were allowed
    assert error.startswith("invalid payload for noop: sleep_seconds:"), error
    assert 'pjobs_jobs_invalid_payload_total{type="noop"} 1.0' in counted


def test_idempotency_keys_behave_as_on_the_command_line(platform: tuple[CLI, str]) -> None:
    cli, url = platform
    keyed = "SELECT pjobs_enqueue('noop', '{}', idempotency_key => %s)"
    with psycopg.connect(url, autocommit=True) as conn:
        (first,) = conn.execute(keyed, ("order-7",)).fetchone() or ()
        (again,) = conn.execute(keyed, ("order-7",)).fetchone() or ()
    by_cli = cli("jobs", "enqueue", "noop", "--idempotency-key", "order-7", "--json")
    assert by_cli.returncode == 0, by_cli.stderr
    assert first == again == json.loads(by_cli.stdout)["id"]
    assert cli("serve", "--burst").returncode == 0  # the job finishes: the key is free
    with psycopg.connect(url, autocommit=True) as conn:
        (later,) = conn.execute(keyed, ("order-7",)).fetchone() or ()
    assert later != first and len(jobs(url)) == 2


def test_a_commit_wakes_an_idle_serve_at_once(platform: tuple[CLI, str]) -> None:
    cli, url = platform
    serve = cli.popen("serve", "--concurrency", "2")
    try:
        with psycopg.connect(url, autocommit=True) as conn:  # let it claim and go idle
            conn.execute(ENQUEUE, ("noop", "{}"))
        until(lambda: jobs(url)[-1][2] == "succeeded", what="the first job done")
        lags = []
        for _ in range(5):
            with psycopg.connect(url) as conn:
                (job_id,) = conn.execute(ENQUEUE, ("noop", "{}")).fetchone() or ()
                conn.commit()
                committed = datetime.now(UTC)
            until(lambda: jobs(url)[-1][2] == "succeeded", what=f"job {job_id} done")
            with psycopg.connect(url) as conn:
                (started,) = (
                    conn.execute("SELECT started_at FROM jobs WHERE id = %s", (job_id,)).fetchone()
                    or ()
                )
            lags.append((started - committed).total_seconds())
        assert sorted(lags)[2] < 0.1, lags  # the median: woken by NOTIFY, not by polling
    finally:
        serve.send_signal(15)
        assert serve.wait(30) == 0, serve.output()


def test_a_role_granted_only_execute_enqueues_and_reads_nothing(
    platform: tuple[CLI, str],
) -> None:
    _, url = platform
    role = f"gateway_{secrets.token_hex(4)}"
    signature = "pjobs_enqueue(text, jsonb, text, timestamptz, integer, integer, text)"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{role}" LOGIN')
    try:
        as_role = make_conninfo(url, user=role)
        with psycopg.connect(as_role) as conn:  # not granted yet
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(ENQUEUE, ("noop", "{}"))
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'GRANT EXECUTE ON FUNCTION {signature} TO "{role}"')
        with psycopg.connect(as_role) as conn:
            (job_id,) = conn.execute(ENQUEUE, ("noop", "{}")).fetchone() or ()
        assert [row[0] for row in jobs(url)] == [job_id]
        for table in ("jobs", "job_types", "projects", "api_keys", "audit_events"):
            with (
                psycopg.connect(as_role) as conn,
                pytest.raises(psycopg.errors.InsufficientPrivilege),
            ):
                conn.execute(f"SELECT * FROM {table}")
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'DROP OWNED BY "{role}"')
            admin.execute(f'DROP ROLE "{role}"')


def test_psql_enqueues_with_nothing_of_python(platform: tuple[CLI, str]) -> None:
    _, url = platform
    require_psql()
    script = (
        "BEGIN;\nSELECT pjobs_enqueue('noop', '{\"sleep_seconds\": 0}', priority => 5);\nCOMMIT;\n"
    )
    done = subprocess.run(
        ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", url],
        input=script, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    ((job_id, kind, state, *_),) = jobs(url)
    assert done.stdout.strip() == str(job_id) and (kind, state) == ("noop", "queued")


def test_the_python_client_enqueues_in_the_callers_transaction(
    platform: tuple[CLI, str],
) -> None:
    _, url = platform
    with psycopg.connect(url) as conn:
        client.enqueue("noop", {}, connection=conn)
        conn.rollback()
    assert jobs(url) == []
    with psycopg.connect(url) as conn:
        first = client.enqueue("noop", {}, connection=conn, idempotency_key="k", priority=3)
    assert client.enqueue("noop", {}, database_url=url, idempotency_key="k") == first
    with pytest.raises(InvalidInputError, match="unknown job type 'nope'"):
        client.enqueue("nope", {}, database_url=url)
    assert [row[0] for row in jobs(url)] == [first]


def test_a_job_enqueued_in_sql_runs(platform: tuple[CLI, str]) -> None:
    cli, url = platform
    with psycopg.connect(url) as conn:
        conn.execute("SELECT pjobs_enqueue('noop', '{\"sleep_seconds\": 0.01}')")
    started = time.monotonic()
    assert cli("serve", "--burst").returncode == 0
    assert time.monotonic() - started < 30
    assert [row[2] for row in jobs(url)] == ["succeeded"]


def test_the_python_client_reads_what_the_data_layer_read(platform: tuple[CLI, str]) -> None:
    cli, url = platform
    made = cli("provision", "p-read", "--name", "Reader", "--owner", "owner-1", "--region", "eu-1")
    assert made.returncode == 0, made.stderr
    details = client.project_details("p-read", database_url=url)
    assert details is not None
    assert (details["id"], details["name"], details["owner_id"]) == ("p-read", "Reader", "owner-1")
    owner = client.project_owner("p-read", database_url=url)
    assert owner is not None and owner["id"] == "owner-1"
    metrics = client.project_metrics("p-read", database_url=url)
    assert metrics["requests"] == 0 and "requests_per_minute" in metrics
    assert client.project_baseline("p-read", database_url=url) is None  # none computed yet
    assert client.project_details("nope", database_url=url) is None
    assert client.project_owner("nope", database_url=url) is None


# The usage examples of the seed's README, as its enqueue functions wrote them (its field
# names; the key is one the provisioning made, the seed's example id not being one).
SEED_EXAMPLES: list[tuple[str, Any]] = [
    (
        "provision_project",
        {"projectId": "proj-123", "projectName": "My Project", "ownerId": "user-456",
         "region": "us-east-1"},
    ),
    ("rotate_key", "KEY"),  # enqueueRotateKeyJob('key-…'): the key's id alone
    (
        "deliver_webhook",
        {"webhookId": "ENDPOINT", "projectId": "proj-123", "url": "URL",
         "payload": {"event": "project.created"}},
    ),
    ("export_backup", {"projectId": "proj-123", "exportType": "full"}),
    ("check_usage_limits", {"checkAll": True}),
    ("check_usage_limits", {"projectIds": ["proj-123"]}),
    ("check_usage_limits", {"checkAll": True, "enforceLimits": False}),
    (
        "auto_suspend",
        {"projectId": "proj-123", "patternType": "EXCESSIVE_USAGE",
         "metrics": {"requests_per_minute": 5000, "baseline_requests_per_minute": 500},
         "enforceAction": True},
    ),
]  # fmt: skip


def test_the_seeds_examples_enqueued_in_sql_run_unchanged(
    platform: tuple[CLI, str], stub_server: Callable[..., Any]
) -> None:
    cli, url = platform
    cli.env |= {
        "PJOBS_WEBHOOKS__SECRET_KEY": base64.b64encode(bytes(range(32))).decode(),
        "PJOBS_WEBHOOKS__ALLOW_CIDRS": '["127.0.0.1/32"]',
    }
    receiver = stub_server()
    results: dict[str, Any] = {}
    for job_type, payload in SEED_EXAMPLES:
        if payload == "KEY":
            listed = cli("keys", "list", "proj-123", "--json")
            assert listed.returncode == 0, listed.stderr
            payload = json.loads(listed.stdout)["keys"][0]["id"]
        if job_type == "deliver_webhook":  # an endpoint of the project, at a loopback URL
            added = cli("webhooks", "add", "proj-123", receiver.url + "/hooks", "--json")
            assert added.returncode == 0, added.stderr
            endpoint = json.loads(added.stdout)["id"]
            payload = {**payload, "webhookId": endpoint, "url": receiver.url + "/hooks"}
        with psycopg.connect(url) as conn:
            row = conn.execute(
                "SELECT pjobs_enqueue(%s, %s::jsonb)", (job_type, json.dumps(payload))
            ).fetchone()
        assert row is not None
        served = cli("serve", "--burst")
        assert served.returncode == 0, served.stderr
        shown = json.loads(cli("jobs", "show", str(row[0]), "--json").stdout)
        assert shown["state"] == "succeeded", (job_type, payload, shown["last_error"])
        results[job_type] = shown["result"]
    project = json.loads(cli("projects", "show", "proj-123", "--json").stdout)
    assert (project["name"], project["owner_id"], project["plan"]) == (
        "My Project", "user-456", "free",  # the plan: default_plan, the seed names none
    )  # fmt: skip
    assert results["rotate_key"]["new_version"] == 2
    assert results["export_backup"]["project_id"] == "proj-123"
    judged = results["auto_suspend"]  # the seed's rule: suspended above 10 x, not at it
    assert judged["pattern"] == "excessive_usage" and judged["metrics"]["requests_per_minute"]
    assert "10.0x the baseline 500" in judged["reason"] and project["status"] == "active"
    (posted,) = [r for r in receiver.received if r.body["type"] == "project.created"]
    assert posted.body["data"] == {"event": "project.created"}  # the seed's payload
    assert posted.headers["webhook-signature"].startswith("v1,")  # signed, as every one


def test_serve_records_the_job_types_it_runs_as_it_starts(platform: tuple[CLI, str]) -> None:
    cli, url = platform
    with psycopg.connect(url) as conn:
        conn.execute("DELETE FROM job_types")
    assert cli("serve", "--burst").returncode == 0
    with psycopg.connect(url) as conn:
        recorded = dict(conn.execute("SELECT name, queue FROM job_types").fetchall())
    assert recorded["deliver_webhook"] == "webhooks" and "provision_project" in recorded
    assert "shaped" in recorded  # a plugin's (the tests' handler module) too
