"""`pjobs usage import`: JSON lines read in blocks of whole lines, each block checked line by
line and its good lines encoded for the store's staging table (by processes of their own
when there is more than a block: the checking is nearly all of an import's Python), then
added up by the store, one statement a table. All or nothing: the caller rolls the whole
import back when the report has errors."""

from __future__ import annotations

import gc
import os
import secrets
import sys
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import chain, islice
from typing import IO, TYPE_CHECKING, Any, cast

import orjson

from pjobs import ids
from pjobs.errors import InvalidInputError
from pjobs.store.staging import Record, StagedRecords, encode_records, micros_of
from pjobs.usage import unknown_metric, usage_time, usage_value

if TYPE_CHECKING:
    from pjobs.config import Settings
    from pjobs.control import ControlTx

LINE_KEYS = frozenset({"project", "metric", "value", "time"})
MAX_LINE_BYTES = 65_536
# A block: what one process checks at once, and the bound on an import's memory (a few
# blocks in flight); large enough that handing it to a process costs little beside it.
BLOCK_BYTES = 8 << 20
ERRORS_SHOWN = 10
# Distinct project ids an import keeps to check by name (~100 MB at most); beyond, the store
# finds them among the staged records.
PROJECTS_KEPT = 1_000_000
TIMES_KEPT = 100_000  # times a checking process keeps (a day of seconds: ~14 MB)
FLOAT_MAX = sys.float_info.max


def import_processes() -> int:
    """Processes that check the lines of an import larger than a block: one a core, at most 4."""
    return max(1, min(4, os.cpu_count() or 1))


@dataclass(frozen=True)
class LineRules:
    """What a good line is, as plain data for the checking processes; one an import."""

    metrics: tuple[tuple[str, bool], ...]  # known metrics: (name, is a gauge)
    now: datetime
    dialect: str  # the store's, for the encoding of the records
    import_id: str  # a process keeps one parser an import (`_parser`)

    @classmethod
    def of(cls, settings: Settings, now: datetime, dialect: str) -> LineRules:
        metrics = tuple((name, kind == "gauge") for name, kind in settings.usage.metrics.items())
        return cls(metrics, now, dialect, secrets.token_hex(8))


class LineParser:
    """Checks one JSON line of usage into (project, metric, value, time in microseconds since
    the epoch, is gauge); the hot loop of an import, so the checks are written for speed (the
    same rules as `usage_value`, `usage_time` and `metric_is_gauge`)."""

    def __init__(self, rules: LineRules) -> None:
        self.now = rules.now
        # a metric's name (one string object a metric, not one a line) and whether a gauge
        self.kinds = {name: (name, gauge) for name, gauge in rules.metrics}
        self.checked: set[str] = set()  # project ids found well-formed
        self.first_seen: list[str] = []  # of those, the ones not yet passed on (`check_block`)
        self.times: dict[str, int] = {}  # times found good, as microseconds: lines share them
        self.earliest = micros_of(datetime(2000, 1, 1, tzinfo=UTC))
        self.latest = micros_of(rules.now + timedelta(days=1))

    def __call__(self, raw: bytes) -> tuple[str, str, float, int, bool]:
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
        value: Any = obj.get("value")
        if type(project) is not str or project not in self.checked:
            if type(project) is not str or not ids.PROJECT_ID.matches(project):
                raise InvalidInputError(f"invalid project {str(project)[:40]!r}")
            self.checked.add(project)
            self.first_seen.append(project)
        kind = self.kinds.get(metric) if type(metric) is str else None
        if kind is None:
            raise unknown_metric(self.kinds, metric)
        if (type(value) is int or type(value) is float) and 0 <= value <= FLOAT_MAX:
            value = float(value)
        else:
            value = usage_value(value, "value")  # raises, saying what is wrong
        text = obj.get("time")
        micros = self.times.get(text) if type(text) is str else None
        if micros is None:
            micros = self.time_of(text)
        return project, kind[0], value, micros, kind[1]

    def time_of(self, text: Any) -> int:
        """A line's time in microseconds (none: now), checked, and kept if given."""
        if type(text) is not str:
            return micros_of(usage_time(text, self.now))  # now, or says what is wrong
        try:
            at = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidInputError(f"invalid time {text[:40]!r}: expected ISO-8601") from None
        micros = micros_of(at if at.tzinfo else at.replace(tzinfo=UTC))
        if not self.earliest <= micros <= self.latest:
            raise InvalidInputError(f"time {text[:40]!r} is out of range")
        if len(self.times) >= TIMES_KEPT:
            self.times.clear()
        self.times[text] = micros
        return micros


@dataclass
class CheckedBlock:
    """A block's lines checked: its good lines' records encoded for the store, and its
    bad lines (the first `ERRORS_SHOWN`, with their numbers)."""

    lines: int
    records: int
    staged: StagedRecords
    projects: list[str]  # well-formed ids this process had not seen before in the import
    errors: list[tuple[int, str]]
    error_count: int


@lru_cache(maxsize=1)
def _parser(rules: LineRules) -> LineParser:
    return LineParser(rules)  # one an import and a process: it keeps what it found good


def check_block(block: bytes, first: int, rules: LineRules) -> CheckedBlock:
    """Check the lines of `block` (whole lines, the first numbered `first`); blank lines
    are skipped."""
    parse = _parser(rules)
    lines = block.split(b"\n")
    lines.pop()  # after the last newline
    records: list[Record] = []
    errors: list[tuple[int, str]] = []
    error_count = 0
    collecting = gc.isenabled()
    gc.disable()  # what a block makes holds no cycles: a collection would find nothing
    try:
        for number, raw in enumerate(lines, start=first):
            if len(raw) >= MAX_LINE_BYTES:
                raise too_long(number)
            try:
                records.append((number, *parse(raw)))
            except InvalidInputError as exc:
                if raw.strip():
                    error_count += 1
                    if len(errors) < ERRORS_SHOWN:
                        errors.append((number, str(exc)))
        staged = encode_records(rules.dialect, records) if records else ""
    finally:
        if collecting:
            gc.enable()
    projects, parse.first_seen = parse.first_seen, []
    return CheckedBlock(len(lines), len(records), staged, projects, errors, error_count)


def read_blocks(handle: IO[bytes], size: int) -> Iterator[tuple[bytes, int]]:
    """Blocks of whole lines of about `size` bytes, each with the number of its first line;
    the last line gets its newline. A line that grows past MAX_LINE_BYTES is refused
    before more of it is read."""
    first, rest = 1, b""
    while True:
        chunk = handle.read(size)
        if not chunk:
            if rest:
                yield rest + b"\n", first
            return
        data = rest + chunk
        cut = data.rfind(b"\n") + 1
        rest = data[cut:]
        if len(rest) >= MAX_LINE_BYTES:
            raise too_long(first + data.count(b"\n", 0, cut))
        if cut:
            yield data[:cut], first
            first += data.count(b"\n", 0, cut)


def too_long(number: int) -> InvalidInputError:
    return InvalidInputError(f"line {number} is longer than {MAX_LINE_BYTES} bytes")


def checked_blocks(
    blocks: Iterator[tuple[bytes, int]], rules: LineRules, processes: int
) -> Iterator[CheckedBlock]:
    """Each block checked, in order: in this process when there is one block (or one
    process), else by a pool of `processes` with a few blocks in flight each."""
    head = list(islice(blocks, 2))
    if len(head) < 2 or processes < 2:
        for block, first in chain(head, blocks):
            yield check_block(block, first, rules)
        return
    import multiprocessing

    # spawned, not forked: this process may hold threads and open connections
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(processes, mp_context=context) as pool:
        pending: deque[Future[CheckedBlock]] = deque()
        for block, first in chain(head, blocks):
            pending.append(pool.submit(check_block, block, first, rules))
            if len(pending) >= 2 * processes:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


@dataclass
class ImportReport:
    lines: int = 0
    records: int = 0
    projects: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    error_count: int = 0

    def summary(self) -> dict[str, Any]:
        return {"lines": self.lines, "records": self.records, "projects": self.projects}


def import_usage(
    tx: ControlTx,
    source: IO[bytes],
    settings: Settings,
    now: datetime,
    processes: int = 1,
    block_bytes: int = BLOCK_BYTES,
) -> ImportReport:
    """Check every line of `source` and, if all are good, add their records up on `tx`;
    memory stays within a few blocks (and the distinct project ids, at most PROJECTS_KEPT)
    however long the input."""
    rules = LineRules.of(settings, now, tx.store.dialect)
    report = ImportReport()
    projects: set[str] | None = set()  # the well-formed ids, while there are not too many
    tx.usage.begin_staging()
    for block in checked_blocks(read_blocks(source, block_bytes), rules, processes):
        report.lines += block.lines
        report.records += block.records
        report.error_count += block.error_count
        report.errors.extend(block.errors)
        if block.staged:
            tx.usage.stage(block.staged)
        if projects is not None:
            projects.update(block.projects)
            projects = projects if len(projects) <= PROJECTS_KEPT else None
    # A clean import's projects, all found by name: nothing to look for among the records.
    by_name = None if report.error_count else projects
    if by_name is not None and tx.usage.count_projects(by_name) == len(by_name):
        report.projects = len(by_name)
    else:
        report.projects, unknown, lines = tx.usage.staged_projects(ERRORS_SHOWN)
        report.error_count += unknown
        report.errors += [(n, f"unknown project {project!r}") for n, project in lines]
    report.errors = sorted(report.errors)[:ERRORS_SHOWN]
    if not report.error_count:
        tx.usage.merge(now - timedelta(hours=settings.usage.minute_retention_hours))
    return report
