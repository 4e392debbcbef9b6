"""Text from outside reaches the terminal escaped: control characters, ANSI and OSC
sequences, bidi overrides and line separators never come out raw, on a terminal or not,
and tab-separated output reads back as the rows it holds."""

from __future__ import annotations

import json

import pytest

from conftest import CLI
from support.terminal import on_a_terminal

HOSTILE = "a\x1b]0;pwned\x07b\x1b[31mred\rc\u202eevil\u2028d\x01e\x9bf\tg\nh\\i"
RAW = ["\x1b]0;pwned", "\x1b[31m", "\x07", "\u202e", "\u2028", "\x01", "\x9b"]


def unescape(field: str) -> str:
    """The inverse of the escaping of tab-separated output."""
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\":
            kind = field[i + 1]
            if kind in "\\tnr":
                out.append({"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}[kind])
                i += 2
            elif kind == "x":
                out.append(chr(int(field[i + 2 : i + 4], 16)))
                i += 4
            else:
                out.append(chr(int(field[i + 2 : i + 6], 16)))
                i += 6
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def test_hostile_text_is_escaped_everywhere_it_is_printed(cli: CLI) -> None:
    payload = json.dumps({"count": 1, "label": HOSTILE})
    enqueued = cli("jobs", "enqueue", "broken", "-p", payload, "--max-attempts", "1")
    assert enqueued.returncode == 0, enqueued.stderr
    job_id = enqueued.stdout.strip()
    assert cli("serve", "--burst").returncode == 0
    commands = [
        ("jobs", "list"),
        ("jobs", "show", job_id),
        ("jobs", "list", "--json"),
        ("jobs", "show", job_id, "--json"),
    ]
    for args in commands:
        plain = cli(*args)
        assert plain.returncode == 0, (args, plain.stderr)
        shown = on_a_terminal(cli, *args)
        for output in (plain.stdout, plain.stderr, shown):
            assert not [raw for raw in RAW if raw in output], (args, output)
        assert "pwned" in plain.stdout and "pwned" in shown, (args, shown)

    listed = cli("jobs", "list").stdout.splitlines()
    header, *rows = [line.split("\t") for line in listed]
    (row,) = rows  # one job: one line, however many newlines its error holds
    assert len(row) == len(header)
    error = f"refused for good: {HOSTILE}"
    assert unescape(row[header.index("last_error")]) == error.splitlines()[0]  # a list: line 1
    assert json.loads(cli("jobs", "show", job_id, "--json").stdout)["last_error"] == error


@pytest.mark.parametrize(
    "args",
    [
        ("provision", "proj-abc", "--name", "x\x1b[2Jy", "--owner", "o-1"),
        ("provision", "proj-abc", "--name", "x\u202ey", "--owner", "o-1"),
        ("owners", "set", "o-1", "--email", "a\x1b@b.example"),
        ("owners", "set", "own\n", "--email", "a@b.example"),  # a full match, not a prefix
        ("suspend", "proj-abc", "--reason", "why\rnot"),
    ],
)
def test_control_characters_are_refused_on_the_way_in(cli: CLI, args: tuple[str, ...]) -> None:
    refused = cli(*args)
    assert refused.returncode in (4, 65), refused.stderr
    assert not [raw for raw in [*RAW, "\x1b[2J", "\r"] if raw in refused.stderr]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ('{"count": 1, "label": "a\\u0000b"}', "holds NUL"),
        ('{"value": NaN}', "NaN and Infinity"),
        ('{"value": -Infinity}', "NaN and Infinity"),
    ],
)
def test_payloads_no_backend_can_keep_are_refused_at_enqueue(
    cli: CLI, payload: str, reason: str
) -> None:
    job_type = "shaped" if "label" in payload else "measured"
    refused = cli("jobs", "enqueue", job_type, "-p", payload)
    assert refused.returncode == 65 and reason in refused.stderr, refused.stderr
    assert json.loads(cli("jobs", "list", "--json").stdout) == {"jobs": []}
