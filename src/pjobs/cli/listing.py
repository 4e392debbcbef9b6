"""What every listing shares: its options (declared once, by `list_options`) and how it prints.

A listing is newest first; `--limit N` and `--offset N` page through it (the last line on
stderr names the next page); `--columns a,b,c` or `-o wide` choose what a table shows, and
on a narrow terminal the column an operator acts on is never dropped; `--json` prints
every field. Listings that change by the second take `--watch [SECONDS]`: redrawn on a
terminal, one line per change otherwise, until Ctrl-C."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, TypeVar

import typer

from pjobs.cli.commands import WATCH_EVERY
from pjobs.cli.options import JsonOption, gathered

Column = str | tuple[str, str]  # a field name, or (header, field name)
F = TypeVar("F", bound=Callable[..., None])


class Output(StrEnum):
    wide = "wide"


@dataclass(frozen=True)
class Columns:
    """A listing's columns: those shown by default, those it never drops on a narrow
    terminal (besides ids: the one an operator acts on), and those `-o wide` adds."""

    shown: tuple[Column, ...]
    keep: tuple[str, ...] = ()
    wide: tuple[Column, ...] = ()

    def pairs(self, chosen: str | None, wide: bool) -> list[tuple[str, str]]:
        """(header, field) of the columns to show: `chosen` ("a,b,c", any of them, in
        that order), else the default ones and with `wide` the others."""
        every = [(c, c) if isinstance(c, str) else c for c in (*self.shown, *self.wide)]
        if chosen is None:
            return every if wide else every[: len(self.shown)]
        by_header = dict(every)
        names = [name.strip() for name in chosen.split(",") if name.strip()]
        unknown = [name for name in names if name not in by_header]
        if unknown or not names:
            from pjobs.errors import InvalidInputError, choice_hint

            first = unknown[0] if unknown else chosen
            raise InvalidInputError(
                f"--columns: no column {first[:40]!r} (columns: {', '.join(by_header)})"
                + choice_hint(first, list(by_header))
            )
        return [(name, by_header[name]) for name in names]


@dataclass(frozen=True)
class ListView:
    """How a listing is asked for: which page, which columns, JSON, watched."""

    limit: int = 1000
    offset: int = 0
    columns: str | None = None
    output: Output | None = None
    as_json: bool = False
    watch: float | None = None


LimitOption = Annotated[
    int, typer.Option("--limit", min=1, max=1_000_000, help="At most this many rows.")
]
OffsetOption = Annotated[
    int,
    typer.Option("--offset", min=0, help="Skip this many rows first: the next page's start."),
]
ColumnsOption = Annotated[
    str | None,
    typer.Option(
        "--columns", metavar="A,B,C", help="Only these columns, in this order (any of -o wide)."
    ),
]
OutputOption = Annotated[
    Output | None, typer.Option("--output", "-o", help="wide: every column there is.")
]
WatchOption = Annotated[
    float | None,
    typer.Option(
        "--watch",
        metavar="[SECONDS]",
        min=0.2,
        help=f"Show it again every SECONDS ({WATCH_EVERY:g} if not given), until Ctrl-C: "
        "redrawn on a terminal, one line per change otherwise.",
    ),
]


def list_options(limit: int = 1000, *, watch: bool = False) -> Callable[[F], F]:
    """Give a command the listing options (`--limit`, default `limit`; `--offset`,
    `--columns`, `-o wide`, `--json`; `--watch` if `watch`), received as `view: ListView`."""
    options: dict[str, Any] = {
        "limit": LimitOption,
        "offset": OffsetOption,
        "columns": ColumnsOption,
        "output": OutputOption,
        "as_json": JsonOption,
    }
    if watch:
        options["watch"] = WatchOption
    return gathered(ListView(limit=limit), "view", options)


def field_of(record: Any, name: str) -> Any:
    return record.get(name) if isinstance(record, dict) else getattr(record, name)


def print_listing(
    view: ListView,
    name: str,
    fetch: Callable[[], Sequence[Any]],
    columns: Columns,
    shown: Callable[[Any], Any] = lambda record: record,
) -> Sequence[Any]:
    """Print what `fetch` returns (a page of records): `{name: [records…]}` with --json,
    else a table of the chosen columns (of each record as `shown` makes it for people),
    and the next page's --offset when there may be one; with --watch, again and again.
    The records printed as a table (none otherwise), for what a listing adds below."""
    pairs = columns.pairs(view.columns, view.output is Output.wide)
    headers = [header for header, _ in pairs]

    def rows_of(records: Sequence[Any]) -> list[list[Any]]:
        return [[field_of(shown(record), f) for _, f in pairs] for record in records]

    if view.watch is not None:
        watch(view, headers, lambda: rows_of(fetch()), columns.keep)
        return []
    records = fetch()
    if view.as_json:
        from pjobs.cli.output import print_json

        print_json({name: records})
        return []
    from pjobs.cli.output import message, print_table

    print_table(headers, rows_of(records), keep=columns.keep)
    if len(records) == view.limit:
        message(f"{view.limit} shown; the next ones: --offset {view.offset + view.limit}")
    return records


def watch(
    view: ListView,
    headers: Sequence[str],
    rows_now: Callable[[], list[list[Any]]],
    keep: Sequence[str] = (),
) -> None:
    """Show the rows every `view.watch` seconds until Ctrl-C: the table redrawn on a
    terminal; otherwise the header once, then each row that is new or changed (keyed by
    its first column), one line each."""
    from pjobs.errors import UsageError

    if view.as_json:
        raise UsageError("--watch shows tables and lines, not --json")
    every = view.watch or WATCH_EVERY
    lines = ChangedLines(headers)
    try:
        while True:
            rows = rows_now()
            if sys.stdout.isatty():
                from pjobs.cli.output import print_table
                from pjobs.timeutil import utcnow

                sys.stdout.write("\x1b[H\x1b[2J")  # home, clear
                sys.stdout.write(f"every {every:g}s: {utcnow():%H:%M:%S} (Ctrl-C ends it)\n")
                print_table(headers, rows, keep=keep)
            else:
                lines.write(rows)
            sys.stdout.flush()
            time.sleep(every)
    except KeyboardInterrupt:
        return


class ChangedLines:
    """Rows as tab-separated lines, the header first, then only rows that are new or
    changed since they were last written (keyed by their first column)."""

    def __init__(self, headers: Sequence[str]) -> None:
        self.headers = list(headers)
        self.header_due = True
        self.seen: dict[str, tuple[str, ...]] = {}

    def known(self, rows: Sequence[Sequence[Any]]) -> None:
        """Take these rows as written already: only a change of them is written."""
        for row in rows:
            texts = self._texts(row)
            self.seen[texts[0]] = texts

    def write(self, rows: Sequence[Sequence[Any]]) -> None:
        out = sys.stdout
        if self.header_due:
            self.header_due = False
            out.write("\t".join(self.headers) + "\n")
        for row in rows:
            texts = self._texts(row)
            if self.seen.get(texts[0]) != texts:
                self.seen[texts[0]] = texts
                out.write("\t".join(texts) + "\n")
        out.flush()

    @staticmethod
    def _texts(row: Sequence[Any]) -> tuple[str, ...]:
        from pjobs.shown import cell, visible

        return tuple(visible(cell(v), tsv=True) for v in row)


def follow(
    headers: Sequence[str],
    first: Sequence[Sequence[Any]],
    next_rows: Callable[[], Sequence[Sequence[Any]]],
    wait: Callable[[], None],
    skip: Sequence[Sequence[Any]] = (),
) -> None:
    """`first`, then after each `wait` the rows that are new or changed, one line each,
    until Ctrl-C (a `… tail`); rows in `skip` are known already, shown only once they
    change."""
    lines = ChangedLines(headers)
    lines.known(skip)
    try:
        lines.write(first)
        while True:
            wait()
            lines.write(next_rows())
    except KeyboardInterrupt:
        return


LastOption = Annotated[
    int, typer.Option("--last", min=0, max=10_000, help="Show the last N first.")
]
