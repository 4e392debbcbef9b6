"""Secrets that text can carry — a password in a URL or a conninfo string, a Telegram bot
token in a Bot API path, a bearer token — replaced by a placeholder. Used wherever text
that may hold them is shown: database URLs, the HTTP libraries' log lines, and every
error message pjobs prints (a last line of defence)."""

from __future__ import annotations

import re

PATTERNS = (
    (re.compile(r"/bot\d+:[A-Za-z0-9_-]+"), "/bot<token>"),  # Telegram Bot API paths
    (re.compile(r"(//[^/\s:@]*):[^/\s@]*@"), r"\1:<password>@"),  # scheme://user:password@
    (
        re.compile(r"((?:^|[?&\s])(?:password|passwd|pwd|token|secret)=)[^&\s]*", re.I),
        r"\1<hidden>",
    ),
    (re.compile(r"(\bBearer\s+)[A-Za-z0-9._~+/=-]+", re.I), r"\1<token>"),
)


def redact(text: str) -> str:
    """`text` with the secrets it may carry hidden."""
    for pattern, replacement in PATTERNS:
        text = pattern.sub(replacement, text)
    return text
