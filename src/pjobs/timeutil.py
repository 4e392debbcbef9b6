"""UTC time, durations and the clock handlers receive (so tests can fix it)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Protocol

from pjobs.errors import InvalidInputError

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
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


def parse_duration(text: str) -> timedelta:
    """Parse `90s`, `15m`, `24h`, `7d`, `1h30m` or a plain number of seconds (at most a
    hundred years)."""
    value = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return _bounded(float(value), text)
    pos, total = 0, 0.0
    for match in _DURATION.finditer(value):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if not value or pos != len(value):
        raise InvalidInputError(
            f"invalid duration {text!r}: use a number with a unit, e.g. 30s, 15m, 24h, 7d"
        )
    return _bounded(total, text)


def _bounded(seconds: float, text: str) -> timedelta:
    if not seconds <= MAX_DURATION.total_seconds():
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise InvalidInputError(f"duration {shown!r} is longer than 100 years")
    return timedelta(seconds=seconds)


def parse_time(text: str, clock: Clock | None = None) -> datetime:
    """An ISO-8601 time (UTC assumed when no zone is given) or a duration ago (`2h`)."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        if len(text) > 64:
            raise InvalidInputError("invalid time: longer than 64 characters") from None
        now = (clock or SystemClock()).now()
        return now - parse_duration(text)
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
