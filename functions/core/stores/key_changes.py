"""The keys' version and change log (`key_state`, `key_changes`), and the key documents
evaluation holds, read from `api_keys` (the auth database).

A trigger writes the log (sql/auth/003_change_log.sql), as `stores.config_changes`
describes for the configuration, with the same types: a ref is
`ChangeRef("key", str(key id), None)`, documents are keyed by `("key", str(key id))`,
so a reader handles both sources alike. A key's document:
`{"id", "key_hash", "scopes", "environment", "expires_at", "active"}`, where
`expires_at` is an ISO-8601 string in UTC (or None) and `active` means neither
deactivated nor revoked (expiry is the reader's to check, against its own clock).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from psycopg.rows import tuple_row

from functions.core.adapters.db import Connection
from functions.core.stores.config_changes import (
    ChangeRef,
    Document,
    DocumentKey,
    SourceState,
    log_replays,
    transaction_version,
)

KIND = "key"
VERSION_SETTING = "togglemaster.key_version"
"""The transaction-local setting the trigger keeps this transaction's version in."""

__all__ = [
    "KIND",
    "ChangeRef",
    "SourceState",
    "changes_since",
    "load_all",
    "load_documents",
    "pending",
    "ref",
    "retired_hashes",
    "state",
]

_COLUMNS = "id, key_hash, scopes, environment, expires_at, is_active AND revoked_at IS NULL"


def ref(key_id: int) -> ChangeRef:
    return ChangeRef(KIND, str(key_id), None)


def state(conn: Connection) -> SourceState:
    row = conn.execute("SELECT epoch::text AS epoch, version FROM key_state").fetchone()
    assert row is not None, "key_state has one row from its migration on"
    return SourceState(epoch=str(row["epoch"]), version=int(row["version"]))


def pending(conn: Connection) -> tuple[int, list[ChangeRef]] | None:
    """This transaction's version and the keys it changed; None if it changed none."""
    version = transaction_version(conn, VERSION_SETTING)
    if version is None:
        return None
    with conn.cursor(row_factory=tuple_row) as cursor:
        rows = cursor.execute(
            "SELECT key_id FROM key_changes WHERE version = %s ORDER BY key_id", (version,)
        ).fetchall()
    return version, [ref(int(key_id)) for (key_id,) in rows]


def changes_since(conn: Connection, version: int) -> list[ChangeRef] | None:
    """The keys changed after `version`, each once; None when the log cannot say (pruned
    that far back, or `version` ahead of the database's): reload everything instead."""
    row = conn.execute(
        "SELECT s.version AS current, (SELECT min(version) FROM key_changes) AS oldest"
        " FROM key_state s"
    ).fetchone()
    assert row is not None
    replay = log_replays(version, int(row["current"]), row["oldest"])
    if replay is not True:
        return None if replay is None else []
    with conn.cursor(row_factory=tuple_row) as cursor:
        rows = cursor.execute(
            "SELECT key_id FROM key_changes WHERE version > %s ORDER BY version, key_id",
            (version,),
        ).fetchall()
    return [ref(key_id) for key_id in dict.fromkeys(int(key_id) for (key_id,) in rows)]


def load_documents(
    conn: Connection, refs: Iterable[ChangeRef]
) -> dict[DocumentKey, Document | None]:
    """The current document of each key `refs` name; None for one that is gone."""
    wanted = sorted({int(r.key) for r in refs if r.kind == KIND})
    found: dict[DocumentKey, Document | None] = {(KIND, str(key_id)): None for key_id in wanted}
    if wanted:
        found.update(_documents(conn, "WHERE id = ANY(%s)", (wanted,)))
    return found


def load_all(conn: Connection) -> tuple[SourceState, dict[DocumentKey, Document], dict[str, int]]:
    """Every key that can still be used (active, not expired), and the state they are at;
    the last value is empty (keys have no per-environment versions), so that both
    sources load alike.

    `conn` must be in a REPEATABLE READ transaction (`adapters.db.snapshot_transaction`),
    so that the state and the keys are one snapshot. Revoked and expired keys are left
    out: a key the reader does not hold is refused, as they would be.
    """
    current = state(conn)
    usable = _documents(
        conn,
        "WHERE is_active AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())",
        (),
    )
    return current, usable, {}


def retired_hashes(conn: Connection) -> set[str]:
    """The hashes of keys that exist but can no longer be used (revoked, deactivated or
    expired): a reader that holds them can tell such a key, whose refusal says why, from
    a made-up one, refused without a query."""
    with conn.cursor(row_factory=tuple_row) as cursor:
        rows = cursor.execute(
            "SELECT key_hash FROM api_keys WHERE NOT (is_active AND revoked_at IS NULL"
            " AND (expires_at IS NULL OR expires_at > now()))"
        ).fetchall()
    return {str(key_hash) for (key_hash,) in rows}


def _documents(conn: Connection, where: str, params: Sequence[Any]) -> dict[DocumentKey, Document]:
    with conn.cursor(row_factory=tuple_row) as cursor:
        rows = cursor.execute(f"SELECT {_COLUMNS} FROM api_keys {where}", params).fetchall()
    return {
        (KIND, str(key_id)): {
            "id": int(key_id),
            "key_hash": str(key_hash),
            "scopes": sorted(scopes),
            "environment": environment,
            "expires_at": _iso(expires_at),
            "active": bool(active),
        }
        for key_id, key_hash, scopes, environment, expires_at, active in rows
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()
