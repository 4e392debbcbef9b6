"""The HTTP libraries' log lines carry whole URLs: what they log is redacted."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from pjobs.adapters.http import build_http_client


def test_tokens_and_passwords_in_logged_urls_are_hidden(caplog: pytest.LogCaptureFixture) -> None:
    build_http_client().close()  # puts the filter in place
    caplog.set_level(logging.DEBUG)
    logging.getLogger("httpx").info(
        'HTTP Request: %s %s "%s"',
        "POST",
        "https://api.telegram.org/bot123456:AAH-secret_token/sendDocument",
        "HTTP/1.1 200 OK",
    )
    logging.getLogger("httpcore.connection").debug(
        "connect to https://user:hunter2@example.com/path"
    )
    assert "AAH-secret_token" not in caplog.text and "hunter2" not in caplog.text
    assert "/bot<token>/sendDocument" in caplog.text
    assert "//user:<password>@example.com" in caplog.text


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://a:S3cretPW@/db",
        "mysql://u:S3cretPW@h/d",
        "postgresql://127.0.0.1:1/db?sslmode=disable&password=S3cretPW",
        "postgresql://a:S3cretPW@127.0.0.1:1/db",
        "host=127.0.0.1 password=S3cretPW",
    ],
)
def test_a_database_password_is_in_no_error(url: str, tmp_path: Path) -> None:
    from conftest import cli_env

    env = {**cli_env(tmp_path, None), "PJOBS_DATABASE_URL": url}
    done = subprocess.run(
        [sys.executable, "-m", "pjobs", "jobs", "list"], env=env, capture_output=True, text=True
    )
    assert done.returncode in (69, 78), done.stderr
    assert "S3cretPW" not in done.stderr + done.stdout
    assert len(done.stderr.strip().splitlines()) == 1
