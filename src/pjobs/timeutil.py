"""UTC time, durations and the clock handlers receive (so tests can fix it)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Protocol

from pjobs.errors import InvalidInputError

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_DURATION_TEXT = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that moves only when told to (tests)."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta


def utcnow() -> datetime:
    return datetime.now(UTC)


MAX_DURATION = timedelta(days=36_500)  # a hundred years: beyond it, dates overflow


UNITS_HELP = "s, m, h or d (e.g. 30s, 15m, 24h, 7d, 1h30m)"


def parse_duration(text: str) -> timedelta:
    """Parse `90s`, `15m`, `24h`, `7d`, `1h30m` (at most a hundred years). A number without
    a unit is refused: `--older-than 7` must not mean seven seconds to a tired operator."""
    value = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        raise InvalidInputError(f"duration {text[:40]!r} has no unit: give one of {UNITS_HELP}")
    pos, total = 0, 0.0
    for match in _DURATION.finditer(value):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if not value or pos != len(value):
        raise InvalidInputError(
            f"invalid duration {text[:40]!r}: a number with a unit, {UNITS_HELP}"
        )
    return _bounded(total, text)


def seconds(text: str | None) -> float | None:
    """A duration option's value in seconds (None: not given)."""
    return None if text is None else parse_duration(text).total_seconds()


def _bounded(seconds: float, text: str) -> timedelta:
    if not seconds <= MAX_DURATION.total_seconds():
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise InvalidInputError(f"duration {shown!r} is longer than 100 years")
    return timedelta(seconds=seconds)


def parse_time(text: str, clock: Clock | None = None) -> datetime:
    """An ISO-8601 time (UTC assumed when no zone is given; `2026-12` is the month's
    start) or a duration ago (`2h`)."""
    month = re.fullmatch(r"(\d{4})-(\d{2})", text.strip())
    try:
        if month is not None:
            return datetime(int(month.group(1)), int(month.group(2)), 1, tzinfo=UTC)
        parsed = datetime.fromisoformat(text)
    except ValueError:
        if len(text) > 64:
            raise InvalidInputError("invalid time: longer than 64 characters") from None
        if _DURATION_TEXT.fullmatch(text.strip().lower()):
            return (clock or SystemClock()).now() - parse_duration(text)
        raise InvalidInputError(
            f"invalid time {text[:40]!r}: an ISO time (2026-12-06T10:00, 2026-12-06, "
            "2026-12) or a duration ago such as 2h or 7d"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def format_duration(seconds: float) -> str:
    """Seconds in hours, minutes and seconds, as `--grace` takes them: 86400 -> 24h,
    90 -> 1m30s (a fraction stays in seconds)."""
    if seconds <= 0 or not float(seconds).is_integer():
        return f"{seconds:g}s"
    left, parts = int(seconds), []
    for unit, size in (("h", 3600), ("m", 60), ("s", 1)):
        if left >= size:
            parts.append(f"{left // size}{unit}")
            left %= size
    return "".join(parts)
