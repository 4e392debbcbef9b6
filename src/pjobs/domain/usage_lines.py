"""What a good line of usage is: JSON lines checked into records for the store's staging
table (`staging.StagedRecord`), the hot loop of `pjobs usage import` (`usage_import`)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import orjson

from pjobs import ids
from pjobs.domain.usage import MAX_USAGE_VALUE, unknown_metric, usage_time, usage_value
from pjobs.errors import InvalidInputError
from pjobs.store.staging import (
    DAY_MICROS,
    StagedRecord,
    metric_part,
    micros_of,
    period_of_day,
    time_part,
)

if TYPE_CHECKING:
    from pjobs.settings.config import Settings

LINE_KEYS = frozenset({"project", "metric", "value", "time"})
MAX_LINE_BYTES = 65_536
ERRORS_SHOWN = 10
TIMES_KEPT = 100_000  # times a checking process keeps (a day of seconds: ~14 MB)


def too_long(number: int) -> InvalidInputError:
    return InvalidInputError(f"line {number} is longer than {MAX_LINE_BYTES} bytes")


@dataclass(frozen=True)
class LineRules:
    """What a good line is, as plain data for the checking processes; one an import."""

    metrics: tuple[tuple[str, bool], ...]  # known metrics: (name, is a gauge)
    now: datetime
    dialect: str  # the store's, for the encoding of the records
    import_id: str  # a process keeps one checker an import (`usage_import._checker`)

    @classmethod
    def of(cls, settings: Settings, now: datetime, dialect: str) -> LineRules:
        metrics = tuple((name, kind == "gauge") for name, kind in settings.usage.metrics.items())
        return cls(metrics, now, dialect, secrets.token_hex(8))


class LineChecker:
    """Checks JSON lines of usage into staged records (`staging.StagedRecord`): the hot loop of
    an import. Lines of the usual shape take the fast path (`check`), which learns the project
    ids and times it has not seen before; every other line takes `parse`, which applies every
    rule and says what is wrong (the rules of `usage_value`, `usage_time`, `metric_is_gauge`)."""

    def __init__(self, rules: LineRules) -> None:
        self.now = rules.now
        self.dialect = rules.dialect
        # a metric's name and its columns of a staged record (`staging.metric_part`)
        self.metrics = {
            name: metric_part(rules.dialect, name, gauge) for name, gauge in rules.metrics
        }
        self.checked: set[str] = set()  # project ids found well-formed
        self.first_seen: list[str] = []  # of those, the ones not yet passed on (`check_block`)
        self.periods: set[str] = set()  # the billing periods of the good times
        self.times: dict[str, Any] = {}  # times found good, as a record's columns: lines share them
        self.earliest = micros_of(datetime(2000, 1, 1, tzinfo=UTC))
        self.latest = micros_of(rules.now + timedelta(days=1))

    def check(self, lines: list[bytes], first: int) -> CheckedLines:
        """The records of `lines` (the first numbered `first`) and what is wrong with the
        others; blank lines are skipped."""
        loads, checked, metrics, times = orjson.loads, self.checked, self.metrics, self.times
        most = MAX_USAGE_VALUE
        learn, time_of = self.learn, self.time_of
        records: list[StagedRecord] = []
        add = records.append
        errors: list[tuple[int, str]] = []
        error_count = 0
        for number, raw in enumerate(lines, start=first):
            if len(raw) >= MAX_LINE_BYTES:
                raise too_long(number)
            try:  # the usual shape; anything else raises or falls through to `parse`
                obj = loads(raw)
                if len(obj) == 4:
                    project, value, text = obj["project"], obj["value"], obj["time"]
                    metric = metrics[obj["metric"]]
                    at = times[text] if text in times else time_of(text)
                    if project not in checked:
                        learn(project)
                    if (type(value) is int or type(value) is float) and 0 <= value <= most:
                        add((number, project, metric, float(value), at))
                        continue
            except Exception:  # `parse` says what is wrong, if anything is
                pass
            try:
                add((number, *self.parse(raw)))
            except InvalidInputError as exc:
                if raw.strip():
                    error_count += 1
                    if len(errors) < ERRORS_SHOWN:
                        errors.append((number, str(exc)))
        return CheckedLines(records, errors, error_count)

    def parse(self, raw: bytes) -> tuple[str, Any, float, Any]:
        """One line checked by every rule: (project, metric part, value, time part)."""
        try:
            obj = orjson.loads(raw)  # checks the UTF-8 too
        except orjson.JSONDecodeError as exc:
            raise InvalidInputError(f"not JSON: {exc.msg[:60]} at column {exc.colno}") from None
        if type(obj) is not dict:
            raise InvalidInputError("expected a JSON object")
        obj = cast(dict[str, Any], obj)
        if not obj.keys() <= LINE_KEYS:
            raise InvalidInputError(f"unknown key {sorted(obj.keys() - LINE_KEYS)[0][:40]!r}")
        project: Any = obj.get("project")
        metric: Any = obj.get("metric")
        if type(project) is not str or project not in self.checked:
            self.learn(project)
        part = self.metrics.get(metric) if type(metric) is str else None
        if part is None:
            raise unknown_metric(self.metrics, metric)
        value = usage_value(obj.get("value"), "value")  # raises, saying what is wrong
        text = obj.get("time")
        at = self.times.get(text) if type(text) is str else None
        return project, part, value, self.time_of(text) if at is None else at

    def learn(self, project: Any) -> None:
        """Check a project id not seen before, and keep it."""
        if type(project) is not str or not ids.PROJECT_ID.matches(project):
            raise InvalidInputError(f"invalid project {str(project)[:40]!r}")
        self.checked.add(project)
        self.first_seen.append(project)

    def time_of(self, text: Any) -> Any:
        """A line's time as a record's columns (none: now), checked, and kept if given."""
        if type(text) is not str:
            return self.part_of(micros_of(usage_time(text, self.now)))
        try:
            at = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidInputError(f"invalid time {text[:40]!r}: expected ISO-8601") from None
        micros = micros_of(at if at.tzinfo else at.replace(tzinfo=UTC))
        if not self.earliest <= micros <= self.latest:
            raise InvalidInputError(f"time {text[:40]!r} is out of range")
        if len(self.times) >= TIMES_KEPT:
            self.times.clear()
        part = self.times[text] = self.part_of(micros)
        return part

    def part_of(self, micros: int) -> Any:
        """A good time's columns of a record (`staging.time_part`); its period is kept."""
        self.periods.add(period_of_day(micros // DAY_MICROS))
        return time_part(self.dialect, micros)


class CheckedLines(NamedTuple):
    records: list[StagedRecord]
    errors: list[tuple[int, str]]  # the first `ERRORS_SHOWN` bad lines, with their numbers
    error_count: int
