"""The `segments` table, owned by the targeting function: one canonical segment
document per key, shared by every environment, with the grammar it was written in
(`engine.grammar`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from functions.core.adapters.db import Connection
from functions.core.errors import Conflict, SegmentNotFound
from functions.core.mappers.segments import segment
from functions.core.models.targeting import Segment

_COLUMNS = "key, document, grammar, created_at, updated_at"


def _missing(key: str) -> SegmentNotFound:
    return SegmentNotFound(f"segment '{key}' not found", segment=key)


def list_segments(conn: Connection) -> list[Segment]:
    rows = conn.execute(f"SELECT {_COLUMNS} FROM segments ORDER BY key").fetchall()
    return [segment(row=row) for row in rows]


def find_segment(conn: Connection, key: str, *, lock: bool = False) -> Segment | None:
    """`lock`: the row stays locked until the transaction ends (a checked write)."""
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM segments WHERE key = %s" + (" FOR UPDATE" if lock else ""),
        (key,),
    ).fetchone()
    return None if row is None else segment(row=row)


def get_segment(conn: Connection, key: str, *, lock: bool = False) -> Segment:
    segment = find_segment(conn, key, lock=lock)
    if segment is None:
        raise _missing(key)
    return segment


def documents(conn: Connection) -> dict[str, tuple[dict[str, Any], int]]:
    """Every segment's stored document and grammar by key (export, import plans)."""
    rows = conn.execute("SELECT key, document, grammar FROM segments ORDER BY key").fetchall()
    return {row["key"]: (row["document"], row["grammar"]) for row in rows}


def lock_existing(conn: Connection, keys: Sequence[str]) -> set[str]:
    """Those of `keys` that exist, share-locked until the transaction ends, so that none
    of them can be deleted before the rule that names it commits."""
    if not keys:
        return set()
    rows = conn.execute(
        "SELECT key FROM segments WHERE key = ANY(%s) FOR SHARE", (list(keys),)
    ).fetchall()
    return {row["key"] for row in rows}


def create_segment(
    conn: Connection, *, key: str, document: dict[str, Any], grammar: int
) -> Segment:
    try:
        with conn.transaction():
            row = conn.execute(
                "INSERT INTO segments (key, document, grammar) VALUES (%s, %s, %s)"
                f" RETURNING {_COLUMNS}",
                (key, Jsonb(document), grammar),
            ).fetchone()
    except psycopg.errors.UniqueViolation:
        raise Conflict(
            f"segment '{key}' already exists: change it with PUT /segments/{key}", segment=key
        ) from None
    assert row is not None
    return segment(row=row)


def update_segment(
    conn: Connection, *, key: str, document: dict[str, Any], grammar: int
) -> Segment:
    row = conn.execute(
        "UPDATE segments SET document = %s, grammar = %s, updated_at = now() WHERE key = %s"
        f" RETURNING {_COLUMNS}",
        (Jsonb(document), grammar, key),
    ).fetchone()
    if row is None:
        raise _missing(key)
    return segment(row=row)


def put_segment(conn: Connection, *, key: str, document: dict[str, Any], grammar: int) -> None:
    """Create or replace (import); a document written unchanged is left alone."""
    conn.execute(
        "INSERT INTO segments (key, document, grammar) VALUES (%s, %s, %s) ON CONFLICT (key)"
        " DO UPDATE SET document = EXCLUDED.document, grammar = EXCLUDED.grammar,"
        " updated_at = now()"
        " WHERE (segments.document, segments.grammar)"
        " IS DISTINCT FROM (EXCLUDED.document, EXCLUDED.grammar)",
        (key, Jsonb(document), grammar),
    )


def lock_segment(conn: Connection, key: str) -> None:
    """Lock the row for deletion: rules being written that name it finish first."""
    row = conn.execute("SELECT key FROM segments WHERE key = %s FOR UPDATE", (key,)).fetchone()
    if row is None:
        raise _missing(key)


def delete_segment(conn: Connection, key: str) -> None:
    if conn.execute("DELETE FROM segments WHERE key = %s", (key,)).rowcount == 0:
        raise _missing(key)
