"""The SSRF guard: a webhook may only reach public addresses. A target that resolves to
loopback, private (RFC 1918, ULA), link-local, site-local, unspecified, multicast, shared
(RFC 6598), reserved, IETF-assigned (192.0.0.0/24) or cloud-metadata space — in IPv4,
IPv6, IPv4-mapped, IPv4-compatible, IPv4-translated, 6to4, Teredo or NAT64 form (the
local-use NAT64 prefix refused whole), in any notation the resolver accepts — is refused,
unless `webhooks.allow_cidrs` admits it. The
check is made on every address a name resolves to, and the request then goes to the
address that was checked (so a name that resolves elsewhere a moment later cannot slip
past)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from pjobs.errors import InvalidInputError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# Prefixes whose low 32 bits are an IPv4 address: IPv4-compatible (::a.b.c.d, deprecated,
# still routed by some), IPv4-translated (::ffff:0:a.b.c.d, SIIT) and NAT64's well-known one.
_CARRIES_IPV4 = tuple(
    ipaddress.ip_network(cidr) for cidr in ("::/96", "::ffff:0:0:0/96", "64:ff9b::/96")
)
# Refused whatever Python's idea of "global" says of them.
_DENIED = tuple(
    ipaddress.ip_network(cidr)
    for cidr in (
        "192.0.0.0/24",  # IETF protocol assignments (192.0.0.9 and .10 count as global)
        "64:ff9b:1::/48",  # local-use NAT64 (RFC 8215): a translator of one's own network
        "fec0::/10",  # site-local (deprecated, still routed inside sites)
        "::/96",  # IPv4-compatible
    )
)
MAX_URL_LENGTH = 2048


class RefusedTarget(InvalidInputError):
    """The URL may not be called: its shape, or an address it resolves to."""


@dataclass(frozen=True)
class Target:
    """A checked webhook URL."""

    url: str
    scheme: str
    host: str  # as written (a name, or an address without brackets)
    port: int
    path: str  # path and query, as sent


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for `host` (an address in its usual
    notation is itself: no call to the resolver)."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise RefusedTarget(f"cannot resolve {host!r}: {exc}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@lru_cache(maxsize=4096)
def parse_target(url: str) -> Target:
    """The URL's parts, if it is an http(s) URL with a host and no credentials."""
    if len(url) > MAX_URL_LENGTH or any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise RefusedTarget("invalid URL: too long, or with spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise RefusedTarget(f"invalid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise RefusedTarget(f"invalid URL scheme {parts.scheme or '(none)'!r}: use http or https")
    if parts.username is not None or parts.password is not None:
        raise RefusedTarget("a webhook URL may not carry credentials")
    if not parts.hostname:
        raise RefusedTarget("invalid URL: no host")
    try:
        parts.hostname.encode("idna")  # what the Host header and the resolver get
    except UnicodeError:
        raise RefusedTarget(f"invalid URL: host {parts.hostname!r} is not a valid name") from None
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    default = 443 if parts.scheme == "https" else 80
    return Target(url, parts.scheme, parts.hostname, port or default, path)


def _embedded(address: Address) -> list[Address]:
    """The IPv4 addresses an IPv6 one carries (mapped, IPv4-compatible, IPv4-translated,
    6to4, NAT64, Teredo's client), none for an IPv4 one."""
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    low = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    inner = [
        address.ipv4_mapped,
        low if any(address in prefix for prefix in _CARRIES_IPV4) else None,
        address.sixtofour,
        address.teredo[1] if address.teredo else None,
    ]
    return [a for a in inner if a is not None]


def address_allowed(text: str, allow: Sequence[Network]) -> bool:
    """Whether a webhook may connect to this address: one `allow` admits (or whose
    embedded IPv4 address it admits), else a public one whose embedded IPv4 addresses are
    public too, outside the ranges refused by name (`_DENIED`)."""
    address = ipaddress.ip_address(text.split("%", 1)[0])
    inner = _embedded(address)
    if any(a in network for a in (address, *inner) for network in allow):
        return True
    return all(
        a.is_global and not a.is_multicast and not any(a in n for n in _DENIED)
        for a in (address, *inner)
    )


def allowed_networks(cidrs: Sequence[str]) -> list[Network]:
    return [ipaddress.ip_network(cidr, strict=False) for cidr in cidrs]


@lru_cache(maxsize=4096)
def _allowed(address: str, allow: tuple[str, ...]) -> bool:
    return address_allowed(address, allowed_networks(allow))


def checked_addresses(target: Target, resolver: Resolver, allow: Sequence[str]) -> list[str]:
    """Every address the target resolves to (now: no answer is kept), if all of them may
    be called."""
    addresses = resolver(target.host, target.port)
    if not addresses:
        raise RefusedTarget(f"{target.host!r} resolves to no address")
    for address in addresses:
        if not _allowed(address, tuple(allow)):
            shown = "" if address == target.host else f" resolves to {address}, which"
            raise RefusedTarget(
                f"{target.host!r}{shown} is not a public address; webhooks may not call it "
                "(webhooks.allow_cidrs admits addresses on purpose)"
            )
    return addresses
