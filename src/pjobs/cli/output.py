r"""Data on stdout (a rich table on a TTY, tab-separated text otherwise, or one JSON
document), messages on stderr.

Whatever is printed may hold text from outside (names, payloads, a receiver's answer): no
control character, escape sequence, bidirectional override or line separator reaches the
terminal raw. They are shown escaped (`\x1b`, `\r`, `\u202e`); in tab-separated output
backslash is escaped too (`\\`), so every row is one line of fields that reads back the
same; JSON escapes them as `\u` sequences."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from pjobs.shown import cell, json_text, visible


def print_json(data: Any) -> None:
    sys.stdout.write(json_text(data) + "\n")


_color = {"off": False}


def disable_color() -> None:
    """--no-color; the NO_COLOR environment variable does the same."""
    _color["off"] = True


def console() -> Any:
    """A rich console on stdout, in colour unless it was asked off."""
    from rich.console import Console

    return Console(no_color=_color_off())


def _color_off() -> bool:
    return _color["off"] or bool(os.environ.get("NO_COLOR"))


def is_id_column(header: str) -> bool:
    """Columns holding what an operator copies into the next command: never cut."""
    return header in ID_COLUMNS or header.endswith("_id")


SHORT = 20  # a value this long or shorter is never wrapped in a table
ID_COLUMNS = {"id", "key", "job", "job_id", "project", "owner", "endpoint", "backup"}


def fitting_columns(
    columns: Sequence[str], texts: list[list[str]], width: int, keep: Sequence[str] = ()
) -> tuple[list[int], list[str]]:
    """The columns that fit `width`, whole (ids and short values) or wrapped (long text):
    long text is dropped first, then short values, the last columns first; ids and the
    columns in `keep` (what an operator acts on) never; and the names of those dropped."""

    def longest(n: int) -> int:
        return max([len(columns[n]), *(len(line[n]) for line in texts)])

    def need(n: int) -> int:
        return (longest(n) if is_id_column(columns[n]) or longest(n) <= SHORT else SHORT) + 3

    kept = list(range(len(columns)))
    # long text first, then short values, each from the right; ids and `keep` never
    droppable = sorted(
        (n for n in kept if not is_id_column(columns[n]) and columns[n] not in keep),
        key=lambda n: (longest(n) <= SHORT, -n),
    )
    while sum(need(n) for n in kept) + 1 > width and droppable:
        kept.remove(droppable.pop(0))
    return kept, [columns[n] for n in range(len(columns)) if n not in kept]


def print_table(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    title: str = "",
    keep: Sequence[str] = (),
) -> None:
    """A table on a terminal (ids whole, other values wrapped rather than cut, times
    to the second, UTC; on a narrow one, `keep` stays), tab-separated text otherwise."""
    if sys.stdout.isatty():
        from rich.table import Table
        from rich.text import Text

        texts = [[visible(cell(v)) for v in row] for row in rows]
        screen = console()
        kept, dropped = fitting_columns(columns, texts, screen.width, keep)
        table = Table(title=title or None, title_justify="left")
        for n in kept:
            longest = max((len(line[n]) for line in texts), default=0)
            if is_id_column(columns[n]) or longest <= SHORT:  # whole: ids, states, times
                table.add_column(columns[n], no_wrap=True, min_width=longest)
            else:  # long text wraps, never cut
                table.add_column(columns[n], overflow="fold", min_width=min(longest, SHORT))
        for line in texts:
            table.add_row(*(Text(line[n]) for n in kept))  # Text: no markup
        if dropped:
            table.caption = f"not shown: {', '.join(dropped)} (--columns, a wider terminal, --json)"
            table.caption_justify = "left"
        screen.print(table)
        return
    out = sys.stdout
    out.write("\t".join(columns) + "\n")
    for row in rows:
        out.write("\t".join(visible(cell(v), tsv=True) for v in row) + "\n")


Column = str | tuple[str, str]  # a field name, or (header, field name)


def print_records(
    name: str,
    records: Sequence[Any],
    columns: Sequence[Column],
    as_json: bool,
    keep: Sequence[str] = (),
) -> None:
    """Records: `{name: [records…]}` with --json, else a table of the given columns (on a
    narrow terminal, those in `keep` stay)."""
    if as_json:
        print_json({name: records})
        return
    pairs = [(c, c) if isinstance(c, str) else c for c in columns]

    def get(record: Any, name: str) -> Any:
        return record.get(name) if isinstance(record, dict) else getattr(record, name)

    print_table(
        [header for header, _ in pairs],
        [[get(record, field) for _, field in pairs] for record in records],
        keep=keep,
    )


def fields_of(record: Any) -> list[tuple[str, Any]]:
    """A dataclass record's (field, value) pairs as they are (times stay times, for
    `cell` to show in the one format)."""
    return [(f.name, getattr(record, f.name)) for f in dataclasses.fields(record)]


def print_fields(pairs: Sequence[tuple[str, Any]]) -> None:
    width = max((len(k) for k, _ in pairs), default=0)
    for key, value in pairs:
        sys.stdout.write(f"{key + ':':<{width + 1}} {visible(cell(value))}\n")


def print_lines(lines: Sequence[Any]) -> None:
    for line in lines:
        sys.stdout.write(f"{visible(str(line))}\n")


def report_switch(
    subject: str, state: str, changed: bool, dry_run: bool, quiet: bool, data: dict[str, Any] | None
) -> None:
    """What a switch command (enable/disable, protect/unprotect) did: one line on stderr,
    and with --json (`data` given) the record with `changed` and `dry_run`."""
    prefix = "would be " if dry_run and changed else "" if changed else "already "
    message(f"{subject}: {prefix}{state}", quiet)
    if data is not None:
        print_json({**data, "changed": changed, "dry_run": dry_run})


def message(text: str, quiet: bool = False) -> None:
    """A message for the person at the terminal: stderr, silenced by -q."""
    if not quiet:
        sys.stderr.write(visible(text) + "\n")


def error(text: str) -> None:
    """`pjobs: TEXT` on stderr: one line, whatever the text holds."""
    sys.stderr.write(f"pjobs: {visible(text)}\n")


def wants_json(argv: list[str]) -> bool:
    """Whether the command line asks for JSON (`--json` before any `--`)."""
    return "--json" in (argv[: argv.index("--")] if "--" in argv else argv)


def fail(text: str, code: int, as_json: bool) -> None:
    """The error a command ends with, on stderr: `pjobs: TEXT`, or, when the command was
    asked for JSON, one document `{"error": {"code": CODE, "message": TEXT}}`."""
    if as_json:
        document = {"error": {"code": code, "message": visible(text)}}
        sys.stderr.write(json.dumps(document, ensure_ascii=False) + "\n")
    else:
        error(text)
