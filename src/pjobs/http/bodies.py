"""Request bodies read within a limit: a larger one is refused (413) as soon as its
declared length, or what has arrived of it, says so, never held whole."""

from __future__ import annotations

from starlette.requests import Request


class TooLarge(Exception):
    pass


async def read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooLarge
    return bytes(body)
