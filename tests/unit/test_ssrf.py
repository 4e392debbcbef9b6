"""The SSRF guard on addresses, with an empty allow list: every form that reaches a
private, loopback, link-local or metadata address is refused, embedded IPv4 addresses
included; public addresses pass."""

from __future__ import annotations

import pytest

from pjobs.adapters.ssrf import address_allowed, allowed_networks

REFUSED = [
    "127.0.0.1",
    "::1",
    "::127.0.0.1",  # IPv4-compatible loopback
    "::ffff:0:a9fe:a9fe",  # SIIT form of 169.254.169.254
    "::ffff:169.254.169.254",
    "64:ff9b::a9fe:a9fe",  # NAT64 (well-known prefix) of the metadata address
    "64:ff9b:1::a9fe:a9fe",  # local-use NAT64 prefix
    "64:ff9b:1::808:808",  # local-use NAT64 even of a public address: one's own translator
    "fec0::1",  # site-local
    "192.0.0.9",  # IETF protocol assignments
    "192.0.0.170",
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1
    "100.64.0.1",
    "fd00::1",
    "169.254.169.254",
]
ALLOWED = ["8.8.8.8", "2606:4700:4700::1111", "64:ff9b::808:808", "93.184.216.34"]


@pytest.mark.parametrize("address", REFUSED)
def test_private_forms_are_refused(address: str) -> None:
    assert not address_allowed(address, [])


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_pass(address: str) -> None:
    assert address_allowed(address, [])


def test_the_allow_list_admits_an_address_in_any_form() -> None:
    allow = allowed_networks(["127.0.0.1/32"])
    assert address_allowed("127.0.0.1", allow) and address_allowed("::ffff:127.0.0.1", allow)
    assert not address_allowed("127.0.0.2", allow)
