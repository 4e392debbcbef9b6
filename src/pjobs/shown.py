r"""Values as people read them, on a terminal or a page: text from outside (names,
payloads, a receiver's answer) never shows a control character, escape sequence,
bidirectional override or line separator raw. They are shown escaped (`\x1b`, `\r`,
`\u202e`); in tab-separated output backslash is escaped too (`\\`), so every row is one
line of fields that reads back the same; JSON escapes them as `\u` sequences."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from datetime import datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Any


def to_jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return to_jsonable(value._asdict())
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no Infinity: "inf", as a string
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return value


_CONTROL = "\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029"
_SHOWN = re.compile(f"[{_CONTROL}]")
_SHOWN_TSV = re.compile(f"[\\\\{_CONTROL}]")
_JSON_RAW = re.compile("[\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
_NAMED = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def json_text(data: Any) -> str:
    """`data` as an indented JSON document, every control and bidi character escaped."""
    text = json.dumps(to_jsonable(data), indent=2, ensure_ascii=False)
    # json escapes C0 controls itself; DEL, C1 and bidi characters only occur in strings
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def visible(text: str, tsv: bool = False) -> str:
    """`text` with control and bidi characters escaped (and backslashes, for `tsv`)."""
    return (_SHOWN_TSV if tsv else _SHOWN).sub(_escape, text)


def cell(value: Any) -> str:
    """A value as text people read: `-` for none, yes/no, a list joined, a time to the
    second (JSON output keeps the values as they are)."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list) and all(isinstance(v, str | int) for v in value):
        return ", ".join(str(v) for v in value) if value else "none"
    if isinstance(value, datetime):
        return timestamp(value)
    if isinstance(value, str) and _ISO_TIME.fullmatch(value):  # a time a job result holds
        return timestamp(datetime.fromisoformat(value))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


_ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")


def timestamp(value: datetime) -> str:
    """A time as every table, line and message shows it: UTC, to the second,
    `2026-12-06T10:00:00Z` (JSON keeps the full ISO value)."""
    from datetime import UTC

    utc = value.astimezone(UTC) if value.tzinfo is not None else value
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")
