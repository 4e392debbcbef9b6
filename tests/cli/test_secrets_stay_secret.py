"""Known secrets — a bot token, a service token, a database password, the API keys pjobs
issues — planted and used by the lifecycle commands and `serve --burst` at -vv: no eight
characters of any of them show in output, logs, stored errors, the audit trail or the
control database (an API key only once, to whoever ran the job that made it)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from conftest import CLI, dump_database

BOT_TOKEN = "987654:BotTokenPlanted-abcdefXYZ"
SERVICE_TOKEN = "SvcTokenPlanted-0123456789"
DB_PASSWORD = "DbPassPlanted-zyxw9876"


def windows(secret: str, skip: int = 0) -> set[str]:
    """Every eight-character piece of the secret, after its first `skip` characters."""
    return {secret[i : i + 8] for i in range(skip, len(secret) - 7)}


def leaks(secret: str, texts: list[str], skip: int = 0) -> list[str]:
    pieces = windows(secret, skip)
    return [piece for piece in pieces for text in texts if piece in text]


def with_password(url: str) -> str:
    if not url.startswith("postgresql"):
        return url
    parts = urlsplit(url)
    netloc = f"{parts.username}:{DB_PASSWORD}@{parts.hostname}:{parts.port or 5432}"
    return urlunsplit(parts._replace(netloc=netloc))


def test_planted_secrets_appear_nowhere(
    cli: CLI, backend: str, stub_server: Callable[..., Any]
) -> None:
    auth = stub_server()
    telegram = stub_server(default=(200, {"ok": True, "result": {"message_id": 1}}))
    env = {
        **cli.env,
        "PJOBS_DATABASE_URL": with_password(backend),
        "PJOBS_SERVICES__AUTH__URL": auth.url,
        "PJOBS_SERVICES__AUTH__TOKEN": SERVICE_TOKEN,
        "PJOBS_TELEGRAM__BOT_TOKEN": BOT_TOKEN,
        "PJOBS_TELEGRAM__API_BASE_URL": telegram.url,
        "PJOBS_TELEGRAM__OPERATORS_CHAT_ID": "42",
    }
    run = CLI(env, cli.logs)
    outputs: list[str] = []
    revealing: list[str] = []  # where API keys are shown, once, by design

    def pjobs(*args: str, reveals: bool = False) -> Any:
        done = run("-vv", *args)
        assert done.returncode == 0, (args, done.stderr)
        (revealing if reveals else outputs).append(done.stdout)
        outputs.append(done.stderr)
        return done

    pjobs("owners", "set", "o-1", "--telegram-chat-id", "99")
    made = json.loads(pjobs("provision", "proj-sec", "--name", "S", "--owner", "o-1", "--json",
                            reveals=True).stdout)  # fmt: skip
    keys = list(made["secrets"].values())
    secret_key = next(k for k in made["result"]["keys"] if k["kind"] == "secret")
    rotated = json.loads(pjobs("rotate-key", secret_key["id"], "--json", reveals=True).stdout)
    keys += list(rotated["secrets"].values())
    assert len(keys) == 3 and all(k.startswith(("pjs_", "pjp_")) for k in keys)
    pjobs("suspend", "proj-sec", "--reason", "planted secrets test")
    pjobs("resume", "proj-sec")
    auth.script.append((500, {"error": f"echoing {SERVICE_TOKEN}"}))  # a service that leaks
    failed = run("-vv", "provision", "proj-two", "--name", "T", "--owner", "o-1",
                 "--max-attempts", "1")  # fmt: skip
    outputs += [failed.stdout, failed.stderr]
    pjobs("deprovision", "proj-sec", "--yes")
    pjobs("serve", "--burst")
    for args in (("jobs", "list"), ("audit", "list", "--json"), ("notifications", "list"),
                 ("projects", "show", "proj-two", "--json"), ("db", "status")):  # fmt: skip
        pjobs(*args)
    assert any(r.path.endswith("/sendMessage") for r in telegram.received)  # the token was used
    assert any("authorization" in {h.lower() for h in r.headers} for r in auth.received)

    stored = [dump_database(backend)]
    logs = [p.read_text() for p in cli.logs.rglob("*") if p.is_file()] if cli.logs.exists() else []
    everywhere = outputs + stored + logs
    assert leaks(BOT_TOKEN, everywhere) == []
    assert leaks(SERVICE_TOKEN, everywhere) == []
    assert leaks(DB_PASSWORD, everywhere) == []
    for key in keys:
        assert leaks(key, everywhere, skip=12) == []  # its 12-character display prefix is fine
        assert sum(key in text for text in revealing) == 1  # shown once
