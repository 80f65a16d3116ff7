"""The `api_keys` table, owned by the auth function."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from functions.core.db import Connection
from functions.core.keys import generate_key, hash_key


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: int
    name: str
    is_active: bool
    created_at: datetime


def _to_key(row: dict[str, object]) -> ApiKey:
    return ApiKey(
        id=int(row["id"]),  # type: ignore[call-overload]
        name=str(row["name"]),
        is_active=bool(row["is_active"]),
        created_at=row["created_at"],  # type: ignore[arg-type]
    )


def create_key(conn: Connection, *, name: str) -> tuple[ApiKey, str]:
    """Insert a new active key; the plaintext is returned once and never stored."""
    plaintext = generate_key()
    row = conn.execute(
        "INSERT INTO api_keys (name, key_hash) VALUES (%s, %s)"
        " RETURNING id, name, is_active, created_at",
        (name, hash_key(plaintext)),
    ).fetchone()
    assert row is not None
    return _to_key(row), plaintext


def find_active_key(conn: Connection, *, plaintext: str) -> ApiKey | None:
    row = conn.execute(
        "SELECT id, name, is_active, created_at FROM api_keys WHERE key_hash = %s AND is_active",
        (hash_key(plaintext),),
    ).fetchone()
    return _to_key(row) if row else None


def deactivate_keys_named(conn: Connection, *, name: str, keep_id: int) -> int:
    cursor = conn.execute(
        "UPDATE api_keys SET is_active = FALSE WHERE name = %s AND id <> %s AND is_active",
        (name, keep_id),
    )
    return cursor.rowcount
