"""The identifiers pjobs accepts (project, owner, key, region, plan, actor), written once for the
command line, payload models and handlers. Checks are full matches: no trailing newline,
no control character, no path or SQL can pass. A value that fails a check, here or in a
pydantic model, is described in words (what it should look like), never by its pattern."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from pjobs.errors import InvalidInputError

if TYPE_CHECKING:
    from pydantic import ValidationError


@dataclass(frozen=True)
class IdRule:
    """What one kind of identifier looks like."""

    what: str  # e.g. "project id"
    body: str  # the regular expression, without anchors
    shape: str  # what it looks like, in words, for error messages

    @property
    def pattern(self) -> str:
        """Anchored, for pydantic `Field(pattern=...)` (a full match there too)."""
        return f"^{self.body}$"

    @cached_property
    def _compiled(self) -> re.Pattern[str]:
        return re.compile(self.body)

    def matches(self, value: str) -> bool:
        return self._compiled.fullmatch(value) is not None

    def check(self, value: str) -> str:
        """`value` if it is valid; InvalidInputError (exit 65) naming the rule if not."""
        if not self.matches(value):
            shown = value if len(value) <= 80 else value[:77] + "..."
            raise InvalidInputError(f"invalid {self.what} {shown!r}: {self.shape}")
        return value


PROJECT_ID = IdRule(
    "project id",
    r"[a-z][a-z0-9-]{2,62}",
    "3 to 63 lowercase letters, digits or hyphens, starting with a letter (e.g. proj-123)",
)
OWNER_ID = IdRule(
    "owner id",
    r"[A-Za-z0-9][A-Za-z0-9_.@+-]{0,127}",
    "1 to 128 letters, digits or . _ @ + -, starting with a letter or digit (e.g. user-42)",
)
REGION = IdRule(
    "region",
    r"[a-z0-9][a-z0-9-]{1,31}",
    "2 to 32 lowercase letters, digits or hyphens (e.g. us-east-1)",
)
PLAN = IdRule(
    "plan",
    r"[a-z][a-z0-9_-]{0,31}",
    "up to 32 lowercase letters, digits, _ or -, starting with a letter (e.g. pro)",
)
KEY_ID = IdRule("API key id", r"key_[0-9a-f]{16}", "key_ and 16 hex digits (key_0123456789abcdef)")
BACKUP_ID = IdRule(
    "backup id",
    r"bk_\d{8}T\d{6}Z_[0-9a-f]{6}",
    "bk_, a UTC time and 6 hex digits (bk_20261206T030000Z_0a1b2c)",
)
# Who asked for a job: an operator's name, or automation such as "schedule:check-limits".
ACTOR = IdRule(
    "actor",
    r"[A-Za-z0-9][A-Za-z0-9_.@+:-]{0,127}",
    "1 to 128 letters, digits or . _ @ + : -, starting with a letter or digit",
)
# What pjobs' own automation names itself: an operator's actor may not start with them.
RESERVED_ACTORS = ("schedule:", "alert:", "job:", "api:", "sql:")
TELEGRAM_CHAT_ID = IdRule(
    "Telegram chat id", r"-?\d{1,20}|@\w{5,32}", "a number, or @ and a channel's name"
)
EMAIL = IdRule(
    "email address",
    r"[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+",
    "an address such as ops@example.com",
)
DELIVERY_ID = IdRule("delivery id", r"msg_[0-9a-f]{24}", "msg_ and 24 hex digits")
PERIOD = IdRule("period", r"\d{4}-(0[1-9]|1[0-2])", "a month, YYYY-MM (e.g. 2026-12)")
RULES: tuple[IdRule, ...] = (PROJECT_ID, OWNER_ID, REGION, PLAN, KEY_ID, BACKUP_ID, ACTOR)
RULES += (TELEGRAM_CHAT_ID, EMAIL, DELIVERY_ID, PERIOD)


def shape_of(pattern: str) -> str:
    """What a value matching `pattern` (an IdRule's or `text_pattern`'s) looks like, in
    words: for messages about a value that does not."""
    for rule in RULES:
        if pattern == rule.pattern:
            return rule.shape
    text = re.fullmatch(r"\^\[\^.*\]\{1,(\d+)\}\$", pattern)
    if text is not None:
        return f"1 to {text.group(1)} characters, no control or bidi characters"
    return "not in the form expected"


# Free text from operators and data (names, reasons, descriptions) may not carry control or
# bidirectional-override characters: they would forge lines and reorder what is shown.
UNPRINTABLE = r"\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029"


def text_pattern(max_length: int) -> str:
    """For pydantic `Field(pattern=...)`: 1 to `max_length` printable characters."""
    return f"^[^{UNPRINTABLE}]{{1,{max_length}}}$"


def check_utf8(value: str, what: str) -> str:
    """`value` if it can be stored as text: no lone surrogate, which is what Python makes
    of bytes that are not UTF-8 (a shell passes them on as they are). Stored, it could
    never be read back: every read of its rows would fail."""
    try:
        value.encode()
    except UnicodeEncodeError:
        raise InvalidInputError(f"invalid {what}: not UTF-8 text") from None
    return value


def check_text(value: str, what: str, max_length: int = 500) -> str:
    """`value` if it is 1 to `max_length` characters, none of them control or bidi ones."""
    if not re.fullmatch(text_pattern(max_length)[1:-1], check_utf8(value, what)):
        raise InvalidInputError(
            f"invalid {what}: 1 to {max_length} characters, no control or bidi characters"
        )
    return value


def describe_validation_error(
    error: ValidationError, subject: str, whole: str, within: str = ""
) -> str:
    """One line for a pydantic error: `{subject} {field}: {message}`, naming the first
    problem and counting the rest; `whole` names the field when the error is on all of it,
    `within` what holds the fields."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in (within, *first["loc"]) if part) or whole
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{subject} {where}: {in_words(first)}{more}"


def in_words(detail: Mapping[str, Any]) -> str:
    """A pydantic error detail as a person would say it: no pattern, no "Value error,",
    no Python type names."""
    kind, ctx = detail["type"], detail.get("ctx") or {}
    if kind == "string_pattern_mismatch":
        return f"expected {shape_of(str(ctx.get('pattern', '')))}"
    if kind == "value_error":
        return str(ctx.get("error", detail["msg"])).rstrip(".")
    words = {
        "missing": "required",
        "extra_forbidden": "not a field it has",
        "int_parsing": "not a whole number",
        "int_type": "not a whole number",
        "int_from_float": "not a whole number",
        "float_parsing": "not a number",
        "float_type": "not a number",
        "finite_number": "not a finite number",
        "bool_parsing": "not true or false",
        "bool_type": "not true or false",
        "string_type": "not text",
        "dict_type": "not an object",
        "list_type": "not a list",
        "json_invalid": "not valid JSON",
        "greater_than_equal": "at least {ge}",
        "greater_than": "more than {gt}",
        "less_than_equal": "at most {le}",
        "less_than": "less than {lt}",
        "string_too_short": "at least {min_length} character(s)",
        "string_too_long": "at most {max_length} characters",
        "too_short": "at least {min_length} item(s)",
        "too_long": "at most {max_length} items",
        "literal_error": "one of {expected}",
        "enum": "one of {expected}",
    }
    if kind in words:
        try:
            return words[kind].format(**ctx)
        except (KeyError, IndexError):
            pass
    return str(detail["msg"]).replace("Input should be", "should be").rstrip(".")
