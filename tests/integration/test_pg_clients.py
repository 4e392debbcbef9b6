"""pg_dump, psql and pg_restore connect as the database URL says: every connection
parameter reaches libpq (TLS verification, channel binding, `hostaddr`, options), the
password by the environment, never on a command line."""

from __future__ import annotations

import subprocess

import pytest

from conftest import require_psql
from pjobs.backups.dump import pg_client
from pjobs.errors import ConfigError


def test_every_parameter_reaches_the_program_and_no_secret_its_command_line() -> None:
    url = (
        "postgresql://alice:s3cret-pw@db.internal:6432/tenant?sslmode=verify-full"
        "&sslrootcert=/etc/ca.pem&sslcert=/etc/c.pem&sslkey=/etc/k.pem"
        "&channel_binding=require&hostaddr=10.1.2.3&keepalives=1&keepalives_idle=30"
        "&target_session_attrs=read-write"
    )
    args, env = pg_client(url)
    assert env["PGSSLROOTCERT"] == "/etc/ca.pem" and env["PGSSLMODE"] == "verify-full"
    assert env["PGSSLCERT"] == "/etc/c.pem" and env["PGSSLKEY"] == "/etc/k.pem"
    assert env["PGCHANNELBINDING"] == "require" and env["PGHOSTADDR"] == "10.1.2.3"
    assert env["PGPASSWORD"] == "s3cret-pw" and env["PGTARGETSESSIONATTRS"] == "read-write"
    assert args[0] == "--dbname" and "keepalives_idle=30" in args[1]
    assert not [a for a in args if "s3cret" in a]
    with pytest.raises(ConfigError, match="sslpassword"):
        pg_client("postgresql://a@h/d?sslpassword=x")


def test_psql_gets_the_options_the_url_carries(pg_database: str) -> None:
    """Options and the application name (dropped before: only host, port, user, password,
    database and sslmode were passed on) reach the server."""
    require_psql()
    url = f"{pg_database}?application_name=pjobs-check&options=-c%20statement_timeout%3D4321"
    args, env = pg_client(url)
    shown = subprocess.run(
        ["psql", "-X", "-At", *args, "-c", "SHOW statement_timeout",
         "-c", "SELECT current_setting('application_name')"],
        env=env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.split() == ["4321ms", "pjobs-check"]
