"""An outcome as the store records it: every field kept, texts escaped, times as the store
writes them (its row is written out by hand, on the hot path)."""

from __future__ import annotations

import json
from dataclasses import fields, replace
from datetime import timedelta

from pjobs.store import Store
from pjobs.store.outcomes import encoded, json_value
from pjobs.store.records import Outcome, OutcomeRow
from pjobs.timeutil import utcnow


def test_an_encoded_outcome_keeps_every_field_and_escapes_its_texts(store: Store) -> None:
    now = utcnow()
    row = OutcomeRow("kind", "{}", lambda cursor, rows: None)
    outcome = Outcome(
        7, 2, "queued", now, now + timedelta(seconds=1), '{"a": "b"}',
        'boom: "quoted"\nnext line \\ \u00e9', "Traceback…\n  line", now + timedelta(seconds=5),
        "timed_out", lambda cursor: None, (row,),
    )  # fmt: skip
    assert all(getattr(outcome, f.name) is not None for f in fields(Outcome) if f.name != "encoded")
    before = replace(outcome)
    made = encoded(store, outcome)  # the row set on the outcome itself, nothing else changed
    assert made is outcome and replace(made, encoded=None) == before
    assert made.encoded is not None
    times = [
        json_value(store, t) for t in (outcome.started_at, outcome.finished_at, outcome.run_at)
    ]  # type: ignore[arg-type]
    assert json.loads(made.encoded) == [
        7, "queued", 2, *times, '{"a": "b"}', outcome.error, outcome.traceback, "timed_out",
    ]  # fmt: skip
    succeeded = encoded(store, Outcome(8, 1, "succeeded", now, now))
    assert json.loads(succeeded.encoded or "")[5:] == [None] * 5
