"""The `api_keys` and `api_key_audit` tables, owned by the auth function."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from functions.core.adapters.db import Connection
from functions.core.keys.material import generate_key, hash_key, key_prefix
from functions.core.mappers.keys import api_key, audit_record
from functions.core.models.keys import ApiKey, AuditRecord

_KEY_COLUMNS = (
    "id, name, key_hash, is_active, created_at, scopes, prefix, environment,"
    " expires_at, last_used_at, revoked_at"
)


def create_key(
    conn: Connection,
    *,
    name: str,
    scopes: Iterable[str],
    environment: str | None = None,
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Insert a new active key; the plaintext is returned once and never stored."""
    plaintext = generate_key()
    row = conn.execute(
        "INSERT INTO api_keys (name, key_hash, scopes, prefix, environment, expires_at)"
        f" VALUES (%s, %s, %s, %s, %s, %s) RETURNING {_KEY_COLUMNS}",
        (
            name,
            hash_key(plaintext),
            sorted(scopes),
            key_prefix(plaintext),
            environment,
            expires_at,
        ),
    ).fetchone()
    assert row is not None
    return api_key(row=row), plaintext


def find_by_hash(conn: Connection, *, key_hash: str) -> ApiKey | None:
    """The key with this hash in any state: the caller decides whether it is usable."""
    row = conn.execute(
        f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE key_hash = %s", (key_hash,)
    ).fetchone()
    return api_key(row=row) if row else None


def get_key(conn: Connection, key_id: int, *, for_update: bool = False) -> ApiKey | None:
    lock = " FOR UPDATE" if for_update else ""
    row = conn.execute(
        f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE id = %s{lock}", (key_id,)
    ).fetchone()
    return api_key(row=row) if row else None


def list_keys(conn: Connection) -> list[ApiKey]:
    rows = conn.execute(f"SELECT {_KEY_COLUMNS} FROM api_keys ORDER BY id").fetchall()
    return [api_key(row=row) for row in rows]


def revoke_key(conn: Connection, key_id: int) -> ApiKey | None:
    """Soft revocation: the row stays, for the audit trail. None if already revoked."""
    row = conn.execute(
        "UPDATE api_keys SET is_active = FALSE, revoked_at = now()"
        f" WHERE id = %s AND is_active RETURNING {_KEY_COLUMNS}",
        (key_id,),
    ).fetchone()
    return api_key(row=row) if row else None


def shorten_expiry(conn: Connection, key_id: int, *, expires_at: datetime) -> ApiKey:
    """Expire a key no later than `expires_at` (a rotated key's grace period)."""
    row = conn.execute(
        "UPDATE api_keys SET expires_at = LEAST(COALESCE(expires_at, %s), %s)"
        f" WHERE id = %s RETURNING {_KEY_COLUMNS}",
        (expires_at, expires_at, key_id),
    ).fetchone()
    assert row is not None
    return api_key(row=row)


def count_active_in_environment(conn: Connection, environment: str) -> int:
    row = conn.execute(
        "SELECT count(*) AS n FROM api_keys WHERE environment = %s AND is_active"
        " AND (expires_at IS NULL OR expires_at > now())",
        (environment,),
    ).fetchone()
    assert row is not None
    return int(row["n"])


def merge_last_used(conn: Connection, used: Mapping[int, datetime]) -> None:
    """Move `last_used_at` forward only: one statement for the whole batch, and rows
    whose stored time is already as recent are not rewritten."""
    if not used:
        return
    ids = list(used)
    conn.execute(
        "UPDATE api_keys AS k SET last_used_at = u.at"
        " FROM unnest(%s::BIGINT[], %s::TIMESTAMPTZ[]) AS u(id, at)"
        " WHERE k.id = u.id AND (k.last_used_at IS NULL OR k.last_used_at < u.at)",
        (ids, [used[i] for i in ids]),
    )


def retire_keys_named(
    conn: Connection, *, name: str, keep_id: int, expires_at: datetime
) -> list[ApiKey]:
    """Make the other usable keys with this name expire at `expires_at` (a grace period);
    keys that expire sooner already are left alone, so a second run extends nothing."""
    rows = conn.execute(
        "UPDATE api_keys SET expires_at = %s"
        " WHERE name = %s AND id <> %s AND is_active"
        f" AND (expires_at IS NULL OR expires_at > %s) RETURNING {_KEY_COLUMNS}",
        (expires_at, name, keep_id, expires_at),
    ).fetchall()
    return [api_key(row=row) for row in rows]


def deactivate_keys_named(conn: Connection, *, name: str, keep_id: int) -> list[ApiKey]:
    rows = conn.execute(
        "UPDATE api_keys SET is_active = FALSE, revoked_at = now()"
        f" WHERE name = %s AND id <> %s AND is_active RETURNING {_KEY_COLUMNS}",
        (name, keep_id),
    ).fetchall()
    return [api_key(row=row) for row in rows]


def replacement_of(conn: Connection, key_id: int) -> int | None:
    """The key that replaced `key_id` when it was rotated, or None (never rotated)."""
    row = conn.execute(
        "SELECT new_key_id FROM api_key_audit WHERE key_id = %s AND action = 'rotate'"
        " ORDER BY id DESC LIMIT 1",
        (key_id,),
    ).fetchone()
    return int(row["new_key_id"]) if row is not None and row["new_key_id"] is not None else None


def record_audit(
    conn: Connection,
    *,
    action: str,
    key_id: int,
    actor: str,
    actor_key_id: int | None = None,
    new_key_id: int | None = None,
) -> None:
    conn.execute(
        "INSERT INTO api_key_audit (action, key_id, new_key_id, actor, actor_key_id)"
        " VALUES (%s, %s, %s, %s, %s)",
        (action, key_id, new_key_id, actor, actor_key_id),
    )


def list_audit(conn: Connection, *, limit: int, before_id: int | None) -> list[AuditRecord]:
    """Newest first; `before_id` pages back through older records."""
    rows = conn.execute(
        "SELECT id, action, key_id, new_key_id, actor, actor_key_id, at FROM api_key_audit"
        " WHERE %(before)s::BIGINT IS NULL OR id < %(before)s ORDER BY id DESC LIMIT %(limit)s",
        {"before": before_id, "limit": limit},
    ).fetchall()
    return [audit_record(row=row) for row in rows]
