"""Jobs validated for enqueueing: one payload object given many times (`--count`) is
validated once; a payload a generator changes between items is validated each time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pjobs.errors import InvalidInputError
from pjobs.handlers.noop import JOB_TYPE
from pjobs.queue.enqueue import EnqueueOptions, prepare_jobs
from pjobs.queue.jobtypes import Registry
from pjobs.settings.config import Settings
from pjobs.timeutil import utcnow


def registry() -> Registry:
    found = Registry()
    found.add(JOB_TYPE)
    return found


def prepared(items: Any) -> list[str]:
    jobs = prepare_jobs(registry(), Settings(), items, EnqueueOptions(), utcnow())
    return [job.payload for job in jobs]


def test_one_payload_many_times_is_the_same_text() -> None:
    payload = {"sleep_seconds": 0.5}
    assert prepared([("noop", payload)] * 3) == ['{"sleep_seconds":0.5}'] * 3


def changing(*seconds: float) -> Iterator[tuple[str, dict[str, Any]]]:
    """One payload object, changed before each item."""
    payload: dict[str, Any] = {}
    for each in seconds:
        payload["sleep_seconds"] = each
        yield "noop", payload


def test_a_payload_a_generator_changes_is_validated_each_time() -> None:
    assert prepared(changing(1, 2)) == ['{"sleep_seconds":1.0}', '{"sleep_seconds":2.0}']
    with pytest.raises(InvalidInputError, match="sleep_seconds"):
        prepared(changing(1, 2, -1))  # the third is refused, not taken for the first
