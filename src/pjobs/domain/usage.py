"""Usage input: `NAME=VALUE` assignments, values, times, and billing periods written
`2026-11` (an import of JSON lines is `usage_import`)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pjobs.errors import InvalidInputError

if TYPE_CHECKING:
    from pjobs.settings.config import Settings

_PERIOD = re.compile(r"(\d{4})-(\d{2})")
# The largest value a usage record may carry, and where a total stops (in the store's
# merges): sums stay finite, and no project's data can overflow a check of every project.
MAX_USAGE_VALUE = 1e15
MAX_USAGE_TOTAL = 1e18


def parse_period(text: str) -> str:
    """A billing period `YYYY-MM` (a calendar month, UTC)."""
    match = _PERIOD.fullmatch(text)
    if match is None or not 1 <= int(match.group(2)) <= 12:
        raise InvalidInputError(f"invalid period {text!r}: expected YYYY-MM, e.g. 2026-11")
    return text


def usage_value(value: Any, what: str) -> float:
    """A usage value: a number from 0 to MAX_USAGE_VALUE (1e15)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInputError(f"{what} must be a number, not {type(value).__name__}")
    try:
        number = float(value)
    except OverflowError:  # an integer past the largest float
        number = math.inf
    if not 0 <= number <= MAX_USAGE_VALUE:
        raise InvalidInputError(f"{what} must be a number ≥ 0 and ≤ 1e15, not {str(value)[:40]}")
    return number


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
        raise unknown_metric(settings.usage.metrics, metric)
    return kind == "gauge"


def unknown_metric(known: Iterable[str], metric: Any) -> InvalidInputError:
    names = ", ".join(sorted(known))
    return InvalidInputError(f"unknown metric {str(metric)[:40]!r} (known: {names})")


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
