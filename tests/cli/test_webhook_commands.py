"""webhooks / deliver-webhook / events as a user runs them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from standardwebhooks import Webhook

from conftest import CLI, ON_SQLITE_ONLY, dump_database

KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="


def webhook_cli(cli: CLI) -> CLI:
    env = {**cli.env, "PJOBS_WEBHOOKS__ALLOW_CIDRS": '["127.0.0.1/32"]'}
    return CLI(env, cli.logs)


def test_add_shows_the_secret_once_and_a_delivery_verifies(
    cli: CLI, backend: str, stub_server: Callable[..., Any], tmp_path: Path
) -> None:
    receiver = stub_server()
    hooks = webhook_cli(cli)
    assert hooks("provision", "proj-123", "--name", "P", "--owner", "o-1").returncode == 0
    added = hooks("webhooks", "add", "proj-123", receiver.url, "-e", "webhook.test", "--json")
    assert added.returncode == 0, added.stderr
    endpoint = json.loads(added.stdout)
    secret = endpoint["secret"]
    assert secret.startswith("whsec_") and len(secret) > 40
    key_file = tmp_path / "xdg-data" / "pjobs" / "webhooks.key"
    assert key_file.stat().st_mode & 0o777 == 0o600  # made on first use
    for shown in (hooks("webhooks", "list", "--json"), hooks("webhooks", "show", endpoint["id"])):
        assert shown.returncode == 0 and secret[6:20] not in shown.stdout
    assert secret[6:20] not in dump_database(backend)  # sealed at rest
    sent = hooks("deliver-webhook", endpoint["id"], "-p", '{"hello": 1}', "--json")
    assert sent.returncode == 0, sent.stderr
    (request,) = receiver.received
    assert Webhook(secret).verify(request.raw, request.headers)["data"] == {"hello": 1}
    listed = json.loads(hooks("webhooks", "deliveries", endpoint["id"], "--json").stdout)
    (delivery,) = listed["deliveries"]
    assert delivery["state"] == "delivered" and delivery["attempts_log"][0]["status"] == 200


@ON_SQLITE_ONLY
def test_bad_input_gets_its_exit_code_and_writes_nothing(
    cli: CLI, backend: str, stub_server: Callable[..., Any]
) -> None:
    receiver = stub_server()
    hooks = webhook_cli(cli)
    assert hooks("provision", "proj-123", "--name", "P", "--owner", "o-1").returncode == 0
    endpoint = json.loads(hooks("webhooks", "add", "proj-123", receiver.url, "--json").stdout)
    before = dump_database(backend)
    cases = [
        (("webhooks", "add", "proj-123", "not a url"), 65, "invalid URL"),
        (("webhooks", "add", "proj-123", "ftp://example.com/"), 65, "scheme"),
        (("webhooks", "add", "proj-123", "http://user:pw@example.com/"), 65, "credentials"),
        (("webhooks", "add", "proj-123", "http://10.0.0.1/"), 65, "not a public address"),
        (("webhooks", "add", "proj-123", receiver.url, "-e", "nope.event"), 65, "unknown event"),
        (("webhooks", "add", "proj-nope", receiver.url), 4, "no project"),
        (("webhooks", "show", "we_0000000000000000"), 4, "no webhook endpoint"),
        (("webhooks", "enable", "we_0000000000000000"), 4, "no webhook endpoint"),
        (("deliver-webhook", "we_0000000000000000"), 4, "no webhook endpoint"),
        (("deliver-webhook", endpoint["id"], "-p", "{nope"), 65, "malformed JSON"),
        (("deliver-webhook", endpoint["id"], "-p", "[1]"), 65, "JSON object"),
        (("deliver-webhook", endpoint["id"], "--event", "made.up"), 65, "unknown event"),
        (("webhooks", "replay", "msg_000000000000000000000000"), 4, "no webhook delivery"),
        (("webhooks", "replay"), 2, "DELIVERY_ID"),
    ]
    for args, code, text in cases:
        result = hooks(*args)
        assert result.returncode == code, (args, result.stderr)
        assert text in result.stderr and result.stderr.count("\n") == 1, (args, result.stderr)
    short = hooks(
        "webhooks", "add", "proj-123", receiver.url, "--secret-stdin", input="whsec_c2hvcnQ="
    )
    assert short.returncode == 65 and "24 bytes" in short.stderr, short.stderr
    assert dump_database(backend) == before


def test_platform_events_are_listed_and_fanned_out(
    cli: CLI, stub_server: Callable[..., Any]
) -> None:
    receiver = stub_server()
    hooks = webhook_cli(cli)
    assert hooks("provision", "proj-123", "--name", "P", "--owner", "o-1").returncode == 0
    added = hooks("webhooks", "add", "proj-123", receiver.url, "-e", "project.suspended")
    assert added.returncode == 0, added.stderr
    assert hooks("suspend", "proj-123", "--reason", "phishing").returncode == 0
    assert hooks("resume", "proj-123").returncode == 0
    events = json.loads(hooks("events", "list", "--project", "proj-123", "--json").stdout)
    assert [e["type"] for e in events["events"]] == [  # newest first
        "project.resumed",
        "project.suspended",
        "project.provisioned",
    ]
    assert hooks("serve", "--burst").returncode == 0
    assert [r.body["type"] for r in receiver.received] == ["project.suspended"]
    assert receiver.received[0].body["data"]["reason"] == "phishing"
