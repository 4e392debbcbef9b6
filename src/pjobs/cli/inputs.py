"""Reading data that commands take: JSON from an argument, a file (@FILE) or stdin (-)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from pjobs.errors import InvalidInputError, UsageError


def read_text_argument(spec: str, limit: int, what: str = "payload") -> str:
    """`spec` itself, or the contents of @FILE, or stdin for `-`; at most `limit` bytes."""
    if spec == "-":
        if sys.stdin is None or sys.stdin.isatty():
            raise UsageError(f"{what} is '-' but nothing is piped to stdin")
        data = sys.stdin.buffer.read(limit + 1)
    elif spec.startswith("@"):
        path = Path(spec[1:])
        try:
            with path.open("rb") as handle:
                data = handle.read(limit + 1)
        except OSError as exc:
            raise InvalidInputError(f"cannot read {what} file {path}: {exc.strerror}") from None
    else:
        data = spec.encode()
    if len(data) > limit:
        raise InvalidInputError(f"{what} is larger than {limit} bytes (setting max_payload_bytes)")
    try:
        return data.decode()
    except UnicodeDecodeError:
        raise InvalidInputError(f"{what} is not UTF-8 text") from None


def read_json_argument(spec: str, limit: int, what: str = "payload") -> Any:
    """JSON from `spec` (see read_text_argument); malformed JSON is InvalidInputError."""
    import json

    try:
        return json.loads(read_text_argument(spec, limit, what))
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"malformed JSON {what}: {exc}") from None
