"""The `flags` table, owned by the flags function."""

from __future__ import annotations

import psycopg

from functions.core.db import Connection
from functions.core.errors import Conflict, NotFound
from functions.core.models import Flag

_COLUMNS = "id, name, description, is_enabled, created_at, updated_at"


def list_flags(conn: Connection) -> list[Flag]:
    rows = conn.execute(f"SELECT {_COLUMNS} FROM flags ORDER BY name").fetchall()
    return [Flag.model_validate(row) for row in rows]


def get_flag(conn: Connection, name: str) -> Flag:
    row = conn.execute(f"SELECT {_COLUMNS} FROM flags WHERE name = %s", (name,)).fetchone()
    if row is None:
        raise NotFound(f"flag '{name}' not found", flag_name=name)
    return Flag.model_validate(row)


def create_flag(conn: Connection, *, name: str, description: str | None, is_enabled: bool) -> Flag:
    try:
        with conn.transaction():
            row = conn.execute(
                f"INSERT INTO flags (name, description, is_enabled) VALUES (%s, %s, %s)"
                f" RETURNING {_COLUMNS}",
                (name, description, is_enabled),
            ).fetchone()
    except psycopg.errors.UniqueViolation:
        raise Conflict(f"flag '{name}' already exists", flag_name=name) from None
    return Flag.model_validate(row)


def update_flag(conn: Connection, name: str, *, changes: dict[str, object]) -> Flag:
    """Apply the given column changes (description, is_enabled) and touch updated_at."""
    allowed = {"description", "is_enabled"}
    assignments = [f"{column} = %s" for column in changes if column in allowed]
    values = [value for column, value in changes.items() if column in allowed]
    row = conn.execute(
        f"UPDATE flags SET {', '.join([*assignments, 'updated_at = now()'])}"
        f" WHERE name = %s RETURNING {_COLUMNS}",
        (*values, name),
    ).fetchone()
    if row is None:
        raise NotFound(f"flag '{name}' not found", flag_name=name)
    return Flag.model_validate(row)


def delete_flag(conn: Connection, name: str) -> None:
    if conn.execute("DELETE FROM flags WHERE name = %s", (name,)).rowcount == 0:
        raise NotFound(f"flag '{name}' not found", flag_name=name)
