"""The API key format: kind prefix, 160 random bits, CRC32 checksum; only digests kept."""

from __future__ import annotations

import hashlib

import pytest

from pjobs.domain import apikeys
from pjobs.errors import InvalidInputError
from pjobs.store.queries import load_queries, to_psycopg


@pytest.mark.parametrize("kind", ["publishable", "secret"])
def test_generated_keys_check_and_name_their_kind(kind: str) -> None:
    keys = {apikeys.generate(kind) for _ in range(200)}  # type: ignore[arg-type]
    assert len(keys) == 200
    for key in keys:
        assert apikeys.check(key) == kind
        assert len(key) == 4 + apikeys.RANDOM_LENGTH + apikeys.CHECKSUM_LENGTH
    assert apikeys.RANDOM_LENGTH * 5.95 >= 128  # bits of randomness


def test_every_single_character_change_is_rejected() -> None:
    key = apikeys.generate("secret")
    for position in range(len(key)):
        for replacement in apikeys.ALPHABET[:3] + "_":
            if replacement == key[position]:
                continue
            changed = key[:position] + replacement + key[position + 1 :]
            with pytest.raises(InvalidInputError):
                apikeys.check(changed)
    for truncated in (key[:-1], key[:20], key + "0", ""):
        with pytest.raises(InvalidInputError):
            apikeys.check(truncated)


def test_only_the_digest_and_a_short_prefix_are_derived() -> None:
    key = apikeys.generate("publishable")
    assert apikeys.digest(key) == hashlib.sha256(key.encode()).hexdigest()
    assert apikeys.display_prefix(key) == key[:12]
    assert apikeys.new_key_id().startswith("key_")


def test_shared_sql_becomes_psycopg_placeholders() -> None:
    sql = "SELECT x::jsonb, :a FROM t WHERE b = coalesce(:b, b) AND c LIKE '5%'"
    assert to_psycopg(sql) == (
        "SELECT x::jsonb, %(a)s FROM t WHERE b = coalesce(%(b)s, b) AND c LIKE '5%%'"
    )
    pg, lite = load_queries("postgresql"), load_queries("sqlite")
    shared = {"get_project", "insert_audit", "list_keys", "record_step", "insert_notification"}
    assert shared <= set(pg) & set(lite)
    assert "%(id)s" in pg["get_project"] and ":id" in lite["get_project"]
