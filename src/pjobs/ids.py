"""The identifiers pjobs accepts (project, owner, key, region, plan, actor), written once for the
command line, payload models and handlers. Checks are full matches: no trailing newline,
no control character, no path or SQL can pass."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from pjobs.errors import InvalidInputError


@dataclass(frozen=True)
class IdRule:
    """What one kind of identifier looks like."""

    what: str  # e.g. "project id"
    body: str  # the regular expression, without anchors

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
            raise InvalidInputError(f"invalid {self.what} {shown!r}: expected {self.pattern}")
        return value


PROJECT_ID = IdRule("project id", r"[a-z][a-z0-9-]{2,62}")
OWNER_ID = IdRule("owner id", r"[A-Za-z0-9][A-Za-z0-9_.@+-]{0,127}")
REGION = IdRule("region", r"[a-z0-9][a-z0-9-]{1,31}")
PLAN = IdRule("plan", r"[a-z][a-z0-9_-]{0,31}")
KEY_ID = IdRule("API key id", r"key_[0-9a-f]{16}")
BACKUP_ID = IdRule("backup id", r"bk_\d{8}T\d{6}Z_[0-9a-f]{6}")
# Who asked for a job: an operator's name, or automation such as "schedule:check-limits".
ACTOR = IdRule("actor", r"[A-Za-z0-9][A-Za-z0-9_.@+:-]{0,127}")
# What pjobs' own automation names itself: an operator's actor may not start with them.
RESERVED_ACTORS = ("schedule:", "alert:", "job:", "api:")
TELEGRAM_CHAT_ID = IdRule("Telegram chat id", r"-?\d{1,20}|@\w{5,32}")
EMAIL = IdRule("email address", r"[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+")


# Free text from operators and data (names, reasons, descriptions) may not carry control or
# bidirectional-override characters: they would forge lines and reorder what is shown.
UNPRINTABLE = r"\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029"


def text_pattern(max_length: int) -> str:
    """For pydantic `Field(pattern=...)`: 1 to `max_length` printable characters."""
    return f"^[^{UNPRINTABLE}]{{1,{max_length}}}$"


def check_text(value: str, what: str, max_length: int = 500) -> str:
    """`value` if it is 1 to `max_length` characters, none of them control or bidi ones."""
    if not re.fullmatch(text_pattern(max_length)[1:-1], value):
        raise InvalidInputError(
            f"invalid {what}: 1 to {max_length} characters, no control or bidi characters"
        )
    return value
