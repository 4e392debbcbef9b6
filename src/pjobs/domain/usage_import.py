"""`pjobs usage import`: JSON lines read in blocks of whole lines, each block checked line by
line and its good lines encoded for the store's staging table (by processes of their own
when there is more than a block: the checking is nearly all of an import's Python), then
added up by the store, one statement a table. All or nothing: the caller rolls the whole
import back when the report has errors.

An import is recorded by the SHA-256 of what it read: the same content imported again (a
cron run repeated after a crash, an operator's second try) adds nothing, unless `again`."""

from __future__ import annotations

import gc
import hashlib
import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from itertools import chain, islice
from typing import IO, TYPE_CHECKING, Any

from pjobs.domain.usage_lines import (
    ERRORS_SHOWN,
    MAX_LINE_BYTES,
    LineChecker,
    LineRules,
    too_long,
)
from pjobs.store.staging import StagedRecords, encode_staged

if TYPE_CHECKING:
    from pjobs.control import ControlTx
    from pjobs.control.usage import UsageImport
    from pjobs.settings.config import Settings

# A block: what one process checks at once, and the bound on an import's memory (a few
# blocks in flight); large enough that handing it to a process costs little beside it.
BLOCK_BYTES = 8 << 20
# Distinct project ids an import keeps to check by name (~100 MB at most); beyond, the store
# finds them among the staged records.
PROJECTS_KEPT = 1_000_000


def import_processes() -> int:
    """Processes that check the lines of an import larger than a block: one a core, at most 4."""
    return max(1, min(4, os.cpu_count() or 1))


@dataclass
class CheckedBlock:
    """A block's lines checked: its good lines' records encoded for the store, and its
    bad lines (the first `ERRORS_SHOWN`, with their numbers)."""

    lines: int
    records: int
    staged: StagedRecords
    projects: list[str]  # well-formed ids this process had not seen before in the import
    periods: set[str]  # the billing periods of the times this process has found good
    errors: list[tuple[int, str]]
    error_count: int


@lru_cache(maxsize=1)
def _checker(rules: LineRules) -> LineChecker:
    return LineChecker(rules)  # one an import and a process: it keeps what it found good


def check_block(block: bytes, first: int, rules: LineRules) -> CheckedBlock:
    """Check the lines of `block` (whole lines, the first numbered `first`)."""
    checker = _checker(rules)
    lines = block.split(b"\n")
    lines.pop()  # after the last newline
    collecting = gc.isenabled()
    gc.disable()  # what a block makes holds no cycles: a collection would find nothing
    try:
        records, errors, error_count = checker.check(lines, first)
        staged = encode_staged(rules.dialect, records) if records else ""
    finally:
        if collecting:
            gc.enable()
    projects, checker.first_seen = checker.first_seen, []
    periods = set(checker.periods)
    return CheckedBlock(len(lines), len(records), staged, projects, periods, errors, error_count)


def read_blocks(handle: IO[bytes] | Hashed, size: int) -> Iterator[tuple[bytes, int]]:
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
    from pjobs.orphans import die_with_parent

    with ProcessPoolExecutor(
        processes, mp_context=context, initializer=die_with_parent, initargs=(os.getpid(),)
    ) as pool:
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
    sha256: str = ""  # of what was read
    already: UsageImport | None = None  # the import of the same content before: none added

    def summary(self) -> dict[str, Any]:
        summary: dict[str, Any] = {"lines": self.lines, "records": self.records}
        summary |= {"projects": self.projects, "sha256": self.sha256}
        if self.already is not None:
            summary["already_imported_at"] = self.already.imported_at.isoformat()
        return summary


class Hashed:
    """A binary input, and the SHA-256 of what has been read from it."""

    def __init__(self, source: IO[bytes]) -> None:
        self.source, self.sha = source, hashlib.sha256()

    def read(self, size: int) -> bytes:
        data = self.source.read(size)
        self.sha.update(data)
        return data


def import_usage(
    tx: ControlTx,
    source: IO[bytes],
    settings: Settings,
    now: datetime,
    processes: int = 1,
    block_bytes: int = BLOCK_BYTES,
    requested_by: str | None = None,
    again: bool = False,
) -> ImportReport:
    """Check every line of `source` and, if all are good and the same content was not
    imported before (or `again`), add their records up on `tx`; memory stays within a few
    blocks (and the distinct project ids, at most PROJECTS_KEPT) however long the input."""
    rules = LineRules.of(settings, now, tx.store.dialect)
    report = ImportReport()
    hashed = Hashed(source)
    projects: set[str] | None = set()  # the well-formed ids, while there are not too many
    periods: set[str] = set()
    tx.usage.begin_staging()
    for block in checked_blocks(read_blocks(hashed, block_bytes), rules, processes):
        report.lines += block.lines
        report.records += block.records
        report.error_count += block.error_count
        report.errors.extend(block.errors)
        periods |= block.periods
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
    report.sha256 = hashed.sha.hexdigest()
    if report.error_count:
        return report
    report.already = tx.usage.record_import(
        report.sha256, report.lines, report.records, requested_by
    )
    if report.already is None or again:
        tx.usage.merge(now - timedelta(hours=settings.usage.minute_retention_hours), periods)
        report.already = None
    return report
