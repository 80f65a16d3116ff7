"""API key material: generation, hashing, constant-time comparison.

A key is `tm_key_` followed by 64 hex digits (256 bits from `secrets`). Only its
SHA-256 is stored; logs may show `key_prefix(key)` and nothing more.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

KEY_PREFIX = "tm_key_"
VISIBLE_PREFIX_LENGTH = 12


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_hex(32)


def hash_key(key: str) -> str:
    """Lowercase hex SHA-256 of the whole key, as `echo -n "$KEY" | sha256sum` prints it."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def key_prefix(key: str) -> str:
    return key[:VISIBLE_PREFIX_LENGTH]


def same_secret(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
