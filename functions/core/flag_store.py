"""The `flags` and `flag_states` tables, owned by the flags function.

A flag's definition (name, description) is one row in `flags`; its on/off state is
one row per environment in `flag_states`, a missing row meaning "disabled".
"""

from __future__ import annotations

import psycopg

from functions.core.db import Connection
from functions.core.errors import Conflict, FlagNotFound
from functions.core.models import Flag

_SELECT = """
SELECT f.id, f.name, f.description, COALESCE(s.is_enabled, FALSE) AS is_enabled,
       f.created_at, f.updated_at, %(environment)s::text AS environment
FROM flags f
LEFT JOIN flag_states s ON s.flag_id = f.id AND s.environment = %(environment)s
"""


def _missing(name: str) -> FlagNotFound:
    return FlagNotFound(f"flag '{name}' not found", flag_name=name)


def list_flags(conn: Connection, *, environment: str) -> list[Flag]:
    rows = conn.execute(_SELECT + " ORDER BY f.name", {"environment": environment}).fetchall()
    return [Flag.model_validate(row) for row in rows]


def get_flag(conn: Connection, name: str, *, environment: str) -> Flag:
    row = conn.execute(
        _SELECT + " WHERE f.name = %(name)s", {"environment": environment, "name": name}
    ).fetchone()
    if row is None:
        raise _missing(name)
    return Flag.model_validate(row)


def create_flag(
    conn: Connection, *, name: str, description: str | None, is_enabled: bool, environment: str
) -> Flag:
    """The flag starts with `is_enabled` in `environment` and disabled everywhere else."""
    try:
        with conn.transaction():
            row = conn.execute(
                "INSERT INTO flags (name, description) VALUES (%s, %s) RETURNING id",
                (name, description),
            ).fetchone()
    except psycopg.errors.UniqueViolation:
        raise Conflict(f"flag '{name}' already exists", flag_name=name) from None
    assert row is not None
    set_enabled(conn, flag_id=int(row["id"]), environment=environment, is_enabled=is_enabled)
    return get_flag(conn, name, environment=environment)


def update_flag(
    conn: Connection,
    name: str,
    *,
    environment: str,
    description: str | None = None,
    set_description: bool = False,
    is_enabled: bool | None = None,
) -> Flag:
    row = conn.execute(
        "UPDATE flags SET description = CASE WHEN %s THEN %s ELSE description END,"
        " updated_at = now() WHERE name = %s RETURNING id",
        (set_description, description, name),
    ).fetchone()
    if row is None:
        raise _missing(name)
    if is_enabled is not None:
        set_enabled(conn, flag_id=int(row["id"]), environment=environment, is_enabled=is_enabled)
    return get_flag(conn, name, environment=environment)


def set_enabled(conn: Connection, *, flag_id: int, environment: str, is_enabled: bool) -> None:
    conn.execute(
        "INSERT INTO flag_states (flag_id, environment, is_enabled) VALUES (%s, %s, %s)"
        " ON CONFLICT (flag_id, environment)"
        " DO UPDATE SET is_enabled = EXCLUDED.is_enabled, updated_at = now()",
        (flag_id, environment, is_enabled),
    )


def clear_state(conn: Connection, *, flag_id: int, environment: str) -> None:
    conn.execute(
        "DELETE FROM flag_states WHERE flag_id = %s AND environment = %s", (flag_id, environment)
    )


def delete_flag(conn: Connection, name: str) -> None:
    """Deletes the definition with its state and rules in every environment."""
    if conn.execute("DELETE FROM flags WHERE name = %s", (name,)).rowcount == 0:
        raise _missing(name)


def lock_flag(conn: Connection, name: str) -> int:
    """The flag's id, locked until the transaction ends (promotion, import)."""
    row = conn.execute("SELECT id FROM flags WHERE name = %s FOR UPDATE", (name,)).fetchone()
    if row is None:
        raise _missing(name)
    return int(row["id"])


def get_flag_id(conn: Connection, name: str) -> int:
    row = conn.execute("SELECT id FROM flags WHERE name = %s", (name,)).fetchone()
    if row is None:
        raise _missing(name)
    return int(row["id"])
