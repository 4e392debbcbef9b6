"""A usage import on both backends, read back through the store: totals, the time of the
latest record to the microsecond, billing periods, per-minute and per-day counts, gauges,
and imports read in many blocks by processes of their own."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest

from pjobs.app import App
from pjobs.control import ControlPlane
from pjobs.domain import usage_import
from pjobs.settings.config import Settings
from pjobs.store import Store
from pjobs.timeutil import FixedClock
from support.waiting import until

NOW = datetime(2026, 11, 20, 12, 0, 30, tzinfo=UTC)
PROJECT = "proj-imp"


@pytest.fixture
def app(store: Store, settings: Settings) -> Iterator[App]:
    built = App(settings, store=store, clock=FixedClock(NOW))
    with ControlPlane(built.store).tx(NOW) as tx:
        tx.owners.ensure("owner-1")
        tx.projects.insert(PROJECT, PROJECT, "owner-1", "eu-west-1", "free")
        tx.projects.set_status(PROJECT, "active")
    yield built
    built.close()


def line(metric: str, value: float, time: str | None, **layout: Any) -> str:
    fields = {"project": PROJECT, "metric": metric, "value": value, "time": time}
    return json.dumps(fields, **layout) + "\n"


LINES = [
    line("requests", 1, "2026-11-20T10:00:05Z"),
    line("requests", 2, "2026-11-20T10:00:59.999999+00:00"),
    line("requests", 4, "2026-11-20T10:01:00+01:00"),  # 09:01 UTC: before the minutes kept
    line("requests", 32, "2026-11-20T12:59:00.5+01:00"),  # 11:59 UTC
    line("requests", 8, "2026-11-20T10:00:30"),  # no zone: UTC
    "  " + line("requests", 16, "2026-11-19T23:59:59.5Z", indent=None, separators=(",", ":")),
    line("errors", 3, "2026-11-20T10:00:10Z"),
    line("storage_bytes", 100, "2026-11-20T11:00:00Z"),
    line("storage_bytes", 50, "2026-11-20T11:00:00.000001Z"),
    line("storage_bytes", 70, "2026-11-20T11:00:00.000001Z"),  # the same time: the later line
    line("storage_bytes", 999, "2026-11-20T10:59:59Z"),  # older: not the gauge's value
    line("bandwidth_bytes", 5, "2026-10-31T23:30:00-01:00"),  # 1 November UTC
    line("bandwidth_bytes", 7, "2026-11-01T00:30:00+01:00"),  # 31 October UTC
    "\n",
]


def import_lines(tx: Any, app: App, lines: list[str], processes: int = 1, block: int = 0) -> Any:
    source = io.BytesIO("".join(lines).encode())
    block = block or usage_import.BLOCK_BYTES
    return usage_import.import_usage(tx, source, app.settings, NOW, processes, block)


# one block checked here; or blocks of a line or two, checked by two processes of their own
IN_BLOCKS = pytest.mark.parametrize(("processes", "block"), [(1, 0), (2, 100)])


@IN_BLOCKS
def test_an_import_adds_up_what_its_lines_say(app: App, processes: int, block: int) -> None:
    control = ControlPlane(app.store)
    with control.tx(NOW) as tx:
        report = import_lines(tx, app, LINES, processes, block)
    assert (report.error_count, report.lines, report.records) == (0, 14, 13)

    with control.tx(NOW) as tx:
        november = {t.metric: t for t in tx.usage.totals(PROJECT, "2026-11")}
        october = {t.metric: t for t in tx.usage.totals(PROJECT, "2026-10")}
        tx.usage.recompute_baselines(date(2026, 11, 20), 7)
        baseline = tx.usage.baseline_of(PROJECT)

        def window(start: str, end: str) -> tuple[float, float]:
            since, until = (datetime.fromisoformat(t) for t in (start, end))
            return tx.usage.window_of(PROJECT, since, until)

        minutes = [
            window("2026-11-20T10:00Z", "2026-11-20T10:01Z"),
            window("2026-11-20T10:01Z", "2026-11-20T11:59Z"),
            window("2026-11-20T11:59Z", "2026-11-20T12:00Z"),
            window("2026-11-19T00:00Z", "2026-11-20T10:00Z"),
        ]

    requests = november["requests"]
    assert requests.value == 1 + 2 + 4 + 8 + 16 + 32
    assert requests.measured_at == datetime(2026, 11, 20, 11, 59, 0, 500000, UTC)
    assert november["errors"].value == 3
    gauge = november["storage_bytes"]
    assert gauge.value == 70
    assert gauge.measured_at == datetime(2026, 11, 20, 11, 0, 0, 1, UTC)
    assert november["bandwidth_bytes"].value == 5
    assert november["bandwidth_bytes"].measured_at == datetime(2026, 11, 1, 0, 30, tzinfo=UTC)
    assert october["bandwidth_bytes"].value == 7
    # per-minute counts are kept for the last two hours only (usage.minute_retention_hours)
    assert minutes == [(1 + 2 + 8, 3), (0, 0), (32, 0), (0, 0)]
    # 19 November, the one complete day with requests: 16 of them
    assert baseline == pytest.approx(16 / 1440)


@IN_BLOCKS
def test_a_second_import_adds_to_the_totals_of_each_period(
    app: App, processes: int, block: int
) -> None:
    control = ControlPlane(app.store)
    for blank_lines in range(2):  # the same records in files of their own
        with control.tx(NOW) as tx:
            lines = LINES + ["\n"] * blank_lines
            assert import_lines(tx, app, lines, processes, block).error_count == 0
    with control.tx(NOW) as tx:
        november = {t.metric: t.value for t in tx.usage.totals(PROJECT, "2026-11")}
        october = {t.metric: t.value for t in tx.usage.totals(PROJECT, "2026-10")}
    assert (november["requests"], november["bandwidth_bytes"]) == (2 * 63, 2 * 5)
    assert (november["storage_bytes"], october["bandwidth_bytes"]) == (70, 2 * 7)


@IN_BLOCKS
def test_the_same_content_imported_again_adds_nothing_unless_again(
    app: App, processes: int, block: int
) -> None:
    """A cron job re-run after a crash, or an operator's second try, imports a file that
    was imported already: nothing is added, and the report says when it was."""
    control = ControlPlane(app.store)
    reports = []
    for again in (False, False, True):
        with control.tx(NOW) as tx:
            source = io.BytesIO("".join(LINES).encode())
            reports.append(
                usage_import.import_usage(
                    tx, source, app.settings, NOW, processes, block or usage_import.BLOCK_BYTES,
                    requested_by="cron:usage", again=again,
                )
            )  # fmt: skip
        with control.tx(NOW) as tx:
            totals = {t.metric: t.value for t in tx.usage.totals(PROJECT, "2026-11")}
        assert totals["requests"] == 63 * (1 + again)
    first, repeated, forced = reports
    assert first.already is None and forced.already is None
    assert repeated.already is not None and repeated.already.requested_by == "cron:usage"
    assert repeated.already.imported_at == NOW and repeated.already.records == 13
    assert first.sha256 == repeated.sha256 == forced.sha256


@IN_BLOCKS
def test_bad_lines_are_reported_by_number_and_import_nothing(
    app: App, processes: int, block: int
) -> None:
    good = line("requests", 1, "2026-11-20T10:00:05Z")
    lines = [
        "  " + good,  # leading whitespace: still a good line
        '{"project": ["proj-imp"], "metric": "requests", "value": 1}\n',
        '{"project": "proj-imp", "metric": {"a": 1}, "value": 1}\n',
        good.rstrip("\n") + " x\n",
        good.rstrip("\n") + " \t\r\n",  # trailing whitespace: good
        '{"project": "proj-imp", "metric": "requests", "value": 1, "extra": 2}\n',
        '{"project": "proj-imp", "metric": "requests", "value": NaN}\n',
        '{"project": "proj-imp", "metric": "requests", "value": 1, "time": "1999-12-31"}\n',
        '{"project": "proj-imp", "metric": "requests", "value": 1' + "0" * 400 + "}\n",
        line("requests", 1, None).replace(PROJECT, "proj-nope"),
    ]
    control = ControlPlane(app.store)
    with control.rehearsal(NOW) as tx:
        report = import_lines(tx, app, lines, processes, block)
    assert report.errors == [
        (2, "invalid project \"['proj-imp']\""),
        (
            3,
            "unknown metric \"{'a': 1}\" (known: bandwidth_bytes, db_size_bytes, errors, "
            "requests, storage_bytes)",
        ),
        (4, "not JSON: unexpected content after document at column 91"),
        (6, "unknown key 'extra'"),
        (7, "not JSON: unexpected character, expected a JSON value at column 56"),
        (8, "time '1999-12-31' is out of range"),
        (9, "not JSON: number is infinity when parsed as double at column 56"),
        (10, "unknown project 'proj-nope'"),
    ]


@IN_BLOCKS
@pytest.mark.parametrize("kept", [usage_import.PROJECTS_KEPT, 0])
def test_projects_are_checked_by_name_or_else_among_the_records(
    app: App, processes: int, block: int, kept: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # kept 0: too many project ids to keep, the store finds them among the staged records
    monkeypatch.setattr(usage_import, "PROJECTS_KEPT", kept)
    control = ControlPlane(app.store)
    others = ["proj-k1", "proj-k2"]
    with control.tx(NOW) as tx:
        for project_id in others:
            tx.projects.insert(project_id, project_id, "owner-1", "eu-west-1", "free")
    known = [
        line("requests", 1, "2026-11-20T10:00:05Z").replace(PROJECT, project_id)
        for project_id in [PROJECT, *others] * 3
    ]
    unknown = [line("requests", 1, None).replace(PROJECT, f"proj-x{n:02d}") for n in range(12)]
    with control.rehearsal(NOW) as tx:
        assert import_lines(tx, app, known, processes, block).summary()["projects"] == 3
    for _ in range(2):  # the same lines again: found again
        with control.rehearsal(NOW) as tx:
            report = import_lines(tx, app, known + unknown, processes, block)
        assert report.error_count == 12
        assert report.errors == [
            (n, f"unknown project 'proj-x{n - 10:02d}'") for n in range(10, 20)
        ]


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
@pytest.mark.parametrize("same_file", [False, True], ids=["other-file", "same-file"])
def test_imports_at_once_of_keys_new_to_both_add_up(app: App, same_file: bool) -> None:
    # PostgreSQL's MERGE fails where another transaction inserts the same key at once:
    # writers of usage take turns (`lock_usage`), the second seeing what the first added;
    # the same file imported twice at once is added once
    import psycopg

    lines = [line("requests", 1, "2026-11-20T12:00:00Z"), line("storage_bytes", 5, None)]
    control = ControlPlane(app.store)
    second: dict[str, Any] = {}

    def import_second() -> None:
        try:
            with control.tx(NOW) as tx:
                second["report"] = import_lines(tx, app, lines + ["\n"] * (not same_file))
        except Exception as exc:  # reported by the assertion below
            second["error"] = exc

    def waiting_on_a_lock() -> bool:
        with psycopg.connect(str(app.settings.database_url)) as watcher:
            row = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).fetchone()
        return bool(row and row[0])

    thread = threading.Thread(target=import_second)
    with control.tx(NOW) as tx:
        import_lines(tx, app, lines)
        thread.start()
        until(waiting_on_a_lock, what="the second import waits for the first")
    thread.join(timeout=30)
    assert "error" not in second, second
    assert second["report"].records == 2
    assert (second["report"].already is not None) is same_file
    added = 1.0 if same_file else 2.0
    with control.tx(NOW, write=False) as tx:
        totals = {t.metric: t.value for t in tx.usage.totals(PROJECT, "2026-11")}
        since, until_ = datetime(2026, 11, 20, 12, tzinfo=UTC), NOW
        assert tx.usage.window_of(PROJECT, since, until_) == (added, 0.0)
    assert totals == {"requests": added, "storage_bytes": 5.0}
