"""Tenant databases with awkward data (both dialects), and all of it read back, to tell
whether a backup restored gives back every row."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from pjobs.settings.dburl import DatabaseURL

ROWS = 3000


def awkward_rows(count: int) -> list[tuple[Any, ...]]:
    """Text with quotes, newlines, tabs, backslashes and non-ASCII; NULLs; JSON; times in
    several zones; exact numerics; binary with zero bytes; floats."""
    zones = [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]
    rows = []
    for n in range(count):
        name = f'O\'Brien "{n}"; --\n\tZoë 東京 🚀 \\ back' if n % 3 else f"plain {n}"
        note = None if n % 7 == 0 else f"line one\r\nline two {n}\x01"
        data = json.dumps({"n": n, "list": [n, None, "ü"], "nested": {"q": "it's"}})
        seen = datetime(2026, 1, 1, 12, 0, 0, n % 1_000_000, tzinfo=zones[n % 3])
        amount = Decimal(f"{n * 1234567}.{n % 1_000_000:06d}")
        photo = None if n % 11 == 0 else bytes((n + i) % 256 for i in range(n % 40)) + b"\x00"
        score = n / 7.0 if n % 5 else None
        rows.append((n, name, note, data, seen, amount, photo, score))
    return rows


def fill(database: DatabaseURL, count: int = ROWS) -> None:
    rows = awkward_rows(count)
    if database.dialect == "postgresql":
        import psycopg

        with psycopg.connect(database.target) as conn:
            conn.execute(
                "CREATE TABLE people (id int PRIMARY KEY, name text, note text, data jsonb, "
                "seen timestamptz, amount numeric(30, 6), photo bytea, score double precision)"
            )
            conn.execute('CREATE SCHEMA other; CREATE TABLE other."Weird ""name""" (x int)')
            conn.execute('INSERT INTO other."Weird ""name""" VALUES (1), (NULL)')
            with conn.cursor().copy("COPY people FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        return
    conn = sqlite3.connect(database.target)
    with conn:
        conn.execute(
            "CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, note TEXT, data TEXT, "
            "seen TEXT, amount TEXT, photo BLOB, score REAL)"
        )
        conn.execute('CREATE TABLE "Weird ""name""" (x INTEGER)')
        conn.execute('INSERT INTO "Weird ""name""" VALUES (1), (NULL)')
        conn.executemany(
            "INSERT INTO people VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(r[0], r[1], r[2], r[3], r[4].isoformat(), str(r[5]), r[6], r[7]) for r in rows],
        )
    conn.close()


def contents(database: DatabaseURL) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order."""
    if database.dialect == "postgresql":
        import psycopg

        with psycopg.connect(database.target) as conn:
            return {
                "people": conn.execute("SELECT * FROM people ORDER BY id").fetchall(),
                "weird": conn.execute(
                    'SELECT * FROM other."Weird ""name""" ORDER BY x NULLS FIRST'
                ).fetchall(),
            }
    conn = sqlite3.connect(database.target)
    try:
        return {
            "people": conn.execute("SELECT * FROM people ORDER BY id").fetchall(),
            "weird": conn.execute('SELECT * FROM "Weird ""name""" ORDER BY x').fetchall(),
        }
    finally:
        conn.close()
