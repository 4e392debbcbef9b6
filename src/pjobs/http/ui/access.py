"""Who may look at the dashboard, and who may act: each token of `ui.tokens` (read-only
unless `actions`). A browser signs in with the token once and keeps a cookie holding a
keyed hash of it (the token itself is not kept); a reverse proxy may send the token as a
bearer header instead. Actions from a cookie need the form's CSRF token too, derived from
the session, and a same-origin request."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from starlette.requests import Request

    from pjobs.settings.groups import UiSettings

COOKIE = "pjobs_ui"


def session_of(token: str) -> str:
    """What the cookie holds for a token: a keyed hash, useless anywhere else."""
    return hmac.new(token.encode(), b"pjobs dashboard session", hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Viewer:
    name: str
    actions: bool  # may act (retry, cancel, run, disable, enable, resume)
    session: str

    @property
    def actor(self) -> str:
        return f"ui:{self.name}"

    @property
    def csrf(self) -> str:
        """The token each action's form carries (a cross-site page cannot read it)."""
        return hmac.new(self.session.encode(), b"csrf", hashlib.sha256).hexdigest()


def ui_viewers(settings: UiSettings) -> list[Viewer]:
    """Each token's viewer. ConfigError (78) for a token file that cannot be read, a token
    that can be guessed (`long_enough`), or one given twice."""
    from pjobs.errors import ConfigError
    from pjobs.settings.secretfile import long_enough, read_secret

    viewers: list[Viewer] = []
    for index, entry in enumerate(settings.tokens):
        where = f"ui.tokens[{index}] ({entry.name})"
        read = read_secret(None, entry.token_file, f"the token of {where}") or ""
        session = session_of(long_enough(read, f"{where}: the token"))
        for other in viewers:
            if other.session == session:
                raise ConfigError(f"{where}: the same token as {other.name}")
        viewers.append(Viewer(entry.name, entry.actions, session))
    return viewers


class Access:
    def __init__(self, viewers: Sequence[Viewer]) -> None:
        self.viewers = list(viewers)

    def by_session(self, session: str) -> Viewer | None:
        found = None
        for viewer in self.viewers:  # every one compared, in constant time
            if hmac.compare_digest(viewer.session.encode(), session.encode()):
                found = viewer
        return found

    def by_token(self, token: str) -> Viewer | None:
        return self.by_session(session_of(token))

    def of(self, request: Request) -> Viewer | None:
        """The viewer a request comes from: its bearer token, else its cookie."""
        given = request.headers.get("authorization", "")
        if given.startswith("Bearer "):
            return self.by_token(given.removeprefix("Bearer ").strip())
        return self.by_session(request.cookies.get(COOKIE, ""))

    @staticmethod
    def may_act(request: Request, viewer: Viewer, form_csrf: str) -> bool:
        """An action is the viewer's own: by bearer header (no cookie a browser sends by
        itself), or from a same-origin form carrying the session's CSRF token."""
        if request.headers.get("authorization", "").startswith("Bearer "):
            return True
        from urllib.parse import urlsplit

        origin = request.headers.get("origin")
        if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
            return False  # (the scheme may differ behind a proxy that ends TLS)
        return hmac.compare_digest(form_csrf.encode(), viewer.csrf.encode())
