"""The HTTP libraries' log lines carry whole URLs: what they log is redacted."""

from __future__ import annotations

import logging

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
