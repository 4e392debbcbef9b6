"""Usage input: `NAME=VALUE` assignments and JSON lines (`project`, `metric`, `value`,
`time`), checked line by line and added up in batches for the store's bulk path; billing
periods written `2026-11`."""

from __future__ import annotations

import gc
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from pjobs import ids
from pjobs.control.usage import UsageBatch, micros_of
from pjobs.errors import InvalidInputError

if TYPE_CHECKING:
    from pjobs.config import Settings
    from pjobs.control import ControlTx

LINE_KEYS = frozenset({"project", "metric", "value", "time"})
JSON_SPACE = " \t\n\r"
# Distinct rows a batch may hold, all tables together, before it is written: the bound on
# an import's memory (about 350 bytes a row: 350 MB), and large enough that an import of a
# million lines usually writes each row once. A row written in two batches is written twice.
BATCH_ROWS = 1_000_000
BATCH_CHECK = 1024  # lines between two looks at a batch's size
LOOK_UP_PROJECTS = 10_000  # projects not yet looked up that make a lookup worth its query
ERRORS_SHOWN = 10
_PERIOD = re.compile(r"(\d{4})-(\d{2})")


def parse_period(text: str) -> str:
    """A billing period `YYYY-MM` (a calendar month, UTC)."""
    match = _PERIOD.fullmatch(text)
    if match is None or not 1 <= int(match.group(2)) <= 12:
        raise InvalidInputError(f"invalid period {text!r}: expected YYYY-MM, e.g. 2026-11")
    return text


def usage_value(value: Any, what: str) -> float:
    """A usage value: a finite number, not negative."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInputError(f"{what} must be a number, not {type(value).__name__}")
    if not math.isfinite(value) or value < 0:
        raise InvalidInputError(f"{what} must be a finite number ≥ 0, not {value}")
    return float(value)


def usage_time(text: Any, now: datetime) -> datetime:
    """An ISO-8601 time (UTC when no zone is given); None is now. Not in the future."""
    if text is None:
        return now
    if not isinstance(text, str):
        raise InvalidInputError("time must be an ISO-8601 string")
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(f"invalid time {text[:40]!r}: expected ISO-8601") from None
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    if at.year < 2000 or at > now + timedelta(days=1):
        raise InvalidInputError(f"time {text[:40]!r} is out of range (before 2000 or ahead)")
    return at


def metric_is_gauge(settings: Settings, metric: Any) -> bool:
    """Whether a known metric is a gauge; InvalidInputError for an unknown one."""
    kind = settings.usage.metrics.get(metric) if isinstance(metric, str) else None
    if kind is None:
        raise unknown_metric(settings, metric)
    return kind == "gauge"


def unknown_metric(settings: Settings, metric: Any) -> InvalidInputError:
    known = ", ".join(sorted(settings.usage.metrics))
    return InvalidInputError(f"unknown metric {str(metric)[:40]!r} (known: {known})")


def parse_assignment(text: str, settings: Settings) -> tuple[str, float]:
    """`NAME=VALUE`, e.g. `requests=1200`."""
    name, sep, raw = text.partition("=")
    if not sep:
        raise InvalidInputError(f"invalid metric {text[:40]!r}: expected NAME=VALUE")
    metric_is_gauge(settings, name)
    try:
        number = float(raw)
    except ValueError:
        raise InvalidInputError(f"invalid value for {name}: {raw[:40]!r} is not a number") from None
    return name, usage_value(number, f"value of {name}")


@dataclass
class ImportReport:
    lines: int = 0
    records: int = 0
    projects: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    error_count: int = 0

    def refuse(self, line: int, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < ERRORS_SHOWN:
            self.errors.append((line, message))

    def summary(self) -> dict[str, Any]:
        return {"lines": self.lines, "records": self.records, "projects": self.projects}


class LineParser:
    """Checks one JSON line of usage into (project, metric, value, time in microseconds since
    the epoch, is gauge); the hot loop of an import, so the checks are written for speed (the
    same rules as `usage_value`, `usage_time` and `metric_is_gauge`)."""

    def __init__(self, settings: Settings, now: datetime) -> None:
        self.settings, self.now = settings, now
        # a metric's name (one string object a metric, not one a line) and whether a gauge
        self.kinds = {
            name: (name, kind == "gauge") for name, kind in settings.usage.metrics.items()
        }
        self.decoder = json.JSONDecoder()
        # The decoder's C scanner, called directly: the decoder's own entry point adds two
        # whitespace searches a line, nearly half the cost of decoding one.
        self.scan: Callable[[str, int], tuple[Any, int]] = vars(self.decoder)["scan_once"]
        self.checked: set[str] = set()  # project ids found well-formed
        self.earliest = micros_of(datetime(2000, 1, 1, tzinfo=UTC))
        self.latest = micros_of(now + timedelta(days=1))

    def decode(self, text: str) -> Any:
        try:
            obj, end = self.scan(text, 0)
            if end == len(text) or not text[end:].strip(JSON_SPACE):
                return obj
        except (StopIteration, ValueError, RecursionError):
            pass
        # the decoder's own path: leading whitespace, or the precise error to report
        return self.decoder.decode(text)

    def __call__(self, raw: str | bytes) -> tuple[str, str, float, int, bool]:
        try:
            # str, not bytes: json would guess the encoding of every line
            obj = self.decode(raw.decode() if isinstance(raw, bytes) else raw)
        except ValueError as exc:  # malformed JSON or UTF-8, or an integer too long to convert
            raise InvalidInputError(f"not JSON: {str(exc)[:60]}") from None
        except RecursionError:
            raise InvalidInputError("not JSON: nested too deeply") from None
        if type(obj) is not dict:
            raise InvalidInputError("expected a JSON object")
        obj = cast(dict[str, Any], obj)
        if not obj.keys() <= LINE_KEYS:
            raise InvalidInputError(f"unknown key {sorted(obj.keys() - LINE_KEYS)[0][:40]!r}")
        project: Any = obj.get("project")
        metric: Any = obj.get("metric")
        value: Any = obj.get("value")
        if type(project) is not str or project not in self.checked:
            if type(project) is not str or not ids.PROJECT_ID.matches(project):
                raise InvalidInputError(f"invalid project {str(project)[:40]!r}")
            self.checked.add(project)
        kind = self.kinds.get(metric) if type(metric) is str else None
        if kind is None:
            raise unknown_metric(self.settings, metric)
        if type(value) not in (int, float) or not 0 <= value < math.inf:
            value = usage_value(value, "value")  # raises, saying what is wrong
        text = obj.get("time")
        if type(text) is str:
            try:
                at = datetime.fromisoformat(text)
            except ValueError:
                raise InvalidInputError(f"invalid time {text[:40]!r}: expected ISO-8601") from None
            micros = micros_of(at if at.tzinfo else at.replace(tzinfo=UTC))
            if not self.earliest <= micros <= self.latest:
                raise InvalidInputError(f"time {text[:40]!r} is out of range")
        else:
            micros = micros_of(usage_time(text, self.now))
        return project, kind[0], float(value), micros, kind[1]


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector. An import makes no reference cycles, and each of the
    collector's full passes would walk every row the batch holds (hundreds of thousands of
    lists) again: about a sixth of an import's time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def import_usage(
    tx: ControlTx, lines: Iterable[str | bytes], settings: Settings, now: datetime
) -> ImportReport:
    """Check every line, add the good ones up in batches and write each batch on `tx`; the
    caller rolls the whole import back when the report has errors (all or nothing).

    Memory is bounded by a batch's distinct rows (`BATCH_ROWS`), not by the number of
    lines; an import that fits in one batch writes it once its lines are read. A larger one
    writes each full batch on a thread of its own while the next one is read and checked
    (the database driver lets go of the GIL while it works)."""
    report = ImportReport()
    parse = LineParser(settings, now)
    minutes_from = now - timedelta(hours=settings.usage.minute_retention_hours)
    known: set[str] = set()
    unseen: dict[str, list[int]] = {}  # projects not yet looked up: their first lines
    batch = UsageBatch.since(minutes_from)
    with collector_paused(), ThreadPoolExecutor(1, thread_name_prefix="pjobs-import") as writer:
        writing: Future[None] | None = None

        def look_up() -> None:
            """Look up the projects seen since the last look (once each), while the
            transaction's connection is free: it is used by one thread at once."""
            nonlocal writing
            if writing is not None:
                writing.result()
                writing = None
            found = tx.usage.existing_projects(sorted(unseen)) if unseen else set()
            for project, numbers in unseen.items():
                for number in [] if project in found else numbers:
                    report.refuse(number, f"unknown project {project!r}")
            known.update(found)
            unseen.clear()

        def flush() -> None:
            nonlocal writing, batch
            look_up()
            if not report.error_count and batch.records:
                writing = writer.submit(tx.usage.add, batch)
                report.records += batch.records
            batch = UsageBatch.since(minutes_from)

        number = 0
        for number, raw in enumerate(lines, start=1):
            try:
                project, metric, value, micros, gauge = parse(raw)
            except InvalidInputError as exc:
                if raw.strip():  # blank lines are skipped
                    report.refuse(number, str(exc))
                continue
            if project not in known:
                numbers = unseen.setdefault(project, [])
                if len(numbers) < ERRORS_SHOWN:
                    numbers.append(number)
            batch.add(project, metric, value, micros, gauge)
            if not number % BATCH_CHECK:
                if batch.size >= BATCH_ROWS:
                    flush()
                elif len(unseen) >= LOOK_UP_PROJECTS and (writing is None or writing.done()):
                    look_up()  # so that the next lines of these projects skip `unseen`
        report.lines = number
        flush()
        if writing is not None:
            writing.result()
        report.projects = len(known)
    return report
