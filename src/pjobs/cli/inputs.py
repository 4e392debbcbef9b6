"""Reading data that commands take: JSON from an argument, a file (@FILE) or stdin (-),
and input streamed from a file or stdin."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

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
    except RecursionError:
        raise InvalidInputError(f"malformed JSON {what}: nested too deeply") from None
    except ValueError as exc:  # an integer of more digits than Python converts
        raise InvalidInputError(f"malformed JSON {what}: {str(exc).split(';')[0]}") from None


@contextmanager
def open_input(spec: str) -> Iterator[BinaryIO]:
    """A file, or stdin for `-`, to read as bytes."""
    if spec == "-":
        if sys.stdin is None or sys.stdin.isatty():
            raise UsageError("input is '-' but nothing is piped to stdin")
        yield sys.stdin.buffer
        return
    try:
        handle = Path(spec).open("rb")
    except OSError as exc:
        raise InvalidInputError(f"cannot read {spec}: {exc.strerror}") from None
    with handle:
        yield handle
