"""The checking of usage lines: the fast path for lines of the usual shape (`LineChecker.check`)
takes exactly what the full rules (`LineChecker.parse`) take, and makes the same records."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pjobs.domain.usage_lines import ERRORS_SHOWN, LineChecker, LineRules
from pjobs.errors import InvalidInputError

NOW = datetime(2026, 11, 20, 12, 0, 30, tzinfo=UTC)
METRICS = (("requests", False), ("errors", False), ("storage_bytes", True))

TIMES = ["2026-11-20T10:00:05Z", "2026-11-20T10:00:05", "2026-11-20T10:00:05.5+01:00"]
TIMES += ["2026-11-22T10:00:00Z", "1999-12-31", "yesterday", 5, None]
values = st.one_of(
    st.integers(min_value=-3, max_value=10**310),
    st.floats(allow_nan=False),
    st.booleans(),
    st.sampled_from(["1", None, [1], {"a": 1}]),
)
# lines of the usual shape, good or with one field wrong; and lines of any shape
usual = st.fixed_dictionaries(
    {
        "project": st.sampled_from(["proj-a", "proj-b", "Proj-A"]),
        "metric": st.sampled_from(["requests", "storage_bytes", "nope"]),
        "value": st.one_of(st.integers(min_value=-2, max_value=5), values),
        "time": st.sampled_from(["2026-11-20T10:00:05Z", "2026-11-20T10:00:05", "1999-12-31"]),
    },
    optional={"extra": st.just(1)},
)
fields = st.fixed_dictionaries(
    {},
    optional={
        "project": st.sampled_from(["proj-a", "proj-b", "Proj-A", "p", 7, None, ["proj-a"]]),
        "metric": st.sampled_from(["requests", "errors", "storage_bytes", "nope", 1, None]),
        "value": values,
        "time": st.sampled_from(TIMES),
        "extra": st.just(1),
    },
)


def encoded(obj: dict[str, Any], compact: bool) -> bytes:
    separators = (",", ":") if compact else (", ", ": ")
    return json.dumps(obj, separators=separators).encode()


lines = st.lists(
    st.one_of(
        st.builds(encoded, usual, st.booleans()),
        st.builds(encoded, fields, st.booleans()),
        st.sampled_from([b"", b"  ", b"[1]", b'"proj-a"', b"{", b"\xff"]),
    ),
    max_size=40,
)


def by_the_rules(rules: LineRules, raws: list[bytes]) -> tuple[list[Any], list[Any], int]:
    """What every line makes by `parse` alone."""
    parse = LineChecker(rules).parse
    records, errors = [], []
    for number, raw in enumerate(raws, start=1):
        try:
            records.append((number, *parse(raw)))
        except InvalidInputError as exc:
            if raw.strip():
                errors.append((number, str(exc)))
    return records, errors[:ERRORS_SHOWN], len(errors)


@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
@settings(max_examples=300, deadline=None)
@given(raws=lines)
def test_the_fast_path_takes_what_the_rules_take(dialect: str, raws: list[bytes]) -> None:
    rules = LineRules(METRICS, NOW, dialect, "test")
    checker = LineChecker(rules)
    expected = by_the_rules(rules, raws)
    # the first pass learns the good ids and times; the second takes the fast path with them
    for _ in range(2):
        assert repr(tuple(checker.check(raws, 1))) == repr(expected)  # 1.0 is not 1
