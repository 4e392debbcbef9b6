"""Times as text (`SqlStore.iso`), as SQLite stores them and outcomes carry them: ISO
8601 in UTC to the microsecond, whatever the time's zone and whichever second was written
before (the text of the last second is kept)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from pjobs.store.sqlite import SQLiteStore


def test_a_time_is_written_as_isoformat_in_utc_and_text_sorts_as_time_does(
    tmp_path: Path,
) -> None:
    tmp_path.chmod(0o700)
    store = SQLiteStore(str(tmp_path / "times.db"), create=True)
    rng = random.Random(7)
    start = datetime(2026, 12, 31, 23, 59, 58, 999_999, tzinfo=UTC)  # a year's last seconds
    times = []
    for i in range(5_000):
        value = start + timedelta(microseconds=rng.randint(0, 4_000_000))
        if i % 3 == 0:
            value = value.replace(microsecond=0)
        if i % 7 == 0:
            value = value.astimezone(timezone(timedelta(hours=-5)))
        times.append(value)
    written = [store.ts(value) for value in times]
    assert written == [t.astimezone(UTC).isoformat(timespec="microseconds") for t in times]
    assert sorted(written) == [store.ts(t) for t in sorted(times)]
    store.close()
