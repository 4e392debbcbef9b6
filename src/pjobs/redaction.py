"""Secrets that text can carry — a password in a URL or a conninfo string, a Telegram bot
token in a Bot API path, a bearer token — replaced by a placeholder. Used wherever text
that may hold them is shown: database URLs, the HTTP libraries' log lines, and every
error message pjobs prints (a last line of defence)."""

from __future__ import annotations

import re
from urllib.parse import quote

PATTERNS = (
    # Telegram Bot API paths, the token's colon as written or percent-encoded
    (re.compile(r"/bot\d+(?::|%3[Aa])[A-Za-z0-9_-]+"), "/bot<token>"),
    (re.compile(r"(//[^/\s:@]*):[^/\s@]*@"), r"\1:<password>@"),  # scheme://user:password@
    (
        re.compile(r"((?:^|[?&\s])(?:password|passwd|pwd|token|secret)=)[^&\s]*", re.I),
        r"\1<hidden>",
    ),
    (re.compile(r"(\bBearer\s+)[A-Za-z0-9._~+/=-]+", re.I), r"\1<token>"),
)


# Secrets this process read (`remember`), in every form text may carry them, longest first.
_known: list[str] = []


def remember(secret: str) -> None:
    """Hide `secret` wherever `redact` looks, whatever the text around it: as written,
    percent-encoded, and, for a token of the form `ID:SECRET` (a Telegram bot token), its
    secret half on its own (a Bot API error may quote it)."""
    forms = {secret, quote(secret, safe="")}
    _, colon, half = secret.partition(":")
    if colon and len(half) >= 16:
        forms.add(half)
    new = [form for form in forms if len(form) >= 8 and form not in _known]
    if new:
        _known.extend(new)
        _known.sort(key=len, reverse=True)


def redact(text: str) -> str:
    """`text` with the secrets it may carry hidden."""
    for pattern, replacement in PATTERNS:
        text = pattern.sub(replacement, text)
    for secret in _known:
        if secret in text:
            text = text.replace(secret, "<secret>")
    return text
