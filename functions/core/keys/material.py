"""API key material: generation, hashing, constant-time comparison, scopes.

A key is `tm_key_` followed by 64 hex digits (256 bits from `secrets`). Only its
SHA-256 is stored; logs may show `key_prefix(key)` and nothing more.

Scopes do not imply one another: `admin` manages keys, `write` changes flags and
rules, `read` reads them, `evaluate` only evaluates (the key an application embeds).
A key created without scopes — the seed's `POST /admin/keys {"name"}`, and every key
that existed before scopes — gets `SEED_SCOPES`: what any key of the old system
could do (read, write and evaluate), never `admin`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

KEY_PREFIX = "tm_key_"
VISIBLE_PREFIX_LENGTH = 12
MAX_KEY_LENGTH = 200
"""Anything longer is refused before it is hashed or looked up."""


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_hex(32)


def hash_key(key: str) -> str:
    """Lowercase hex SHA-256 of the whole key, as `echo -n "$KEY" | sha256sum` prints it."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def key_prefix(key: str) -> str:
    return key[:VISIBLE_PREFIX_LENGTH]


def looks_like_key(presented: str | None) -> bool:
    """Cheap shape check, so garbage never costs a hash, a cache slot or a query."""
    return (
        presented is not None
        and presented.startswith(KEY_PREFIX)
        and len(presented) <= MAX_KEY_LENGTH
    )


def same_secret(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
