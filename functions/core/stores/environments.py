"""The `environments` table, owned by the flags function."""

from __future__ import annotations

import psycopg

from functions.core.adapters.db import Connection
from functions.core.errors import Conflict, EnvironmentNotFound
from functions.core.models.environments import Environment

_COLUMNS = "key, name, created_at, updated_at"


def list_environments(conn: Connection) -> list[Environment]:
    rows = conn.execute(f"SELECT {_COLUMNS} FROM environments ORDER BY key").fetchall()
    return [Environment.model_validate(row) for row in rows]


def environment_keys(conn: Connection) -> list[str]:
    """Every environment's key, sorted: what auth checks a key's binding against."""
    rows = conn.execute("SELECT key FROM environments ORDER BY key").fetchall()
    return [str(row["key"]) for row in rows]


def get_environment(conn: Connection, key: str) -> Environment:
    row = conn.execute(f"SELECT {_COLUMNS} FROM environments WHERE key = %s", (key,)).fetchone()
    if row is None:
        raise EnvironmentNotFound(f"environment '{key}' does not exist", environment=key)
    return Environment.model_validate(row)


def create_environment(conn: Connection, *, key: str, name: str) -> Environment:
    try:
        with conn.transaction():
            row = conn.execute(
                f"INSERT INTO environments (key, name) VALUES (%s, %s) RETURNING {_COLUMNS}",
                (key, name),
            ).fetchone()
    except psycopg.errors.UniqueViolation:
        raise Conflict(f"environment '{key}' already exists", environment=key) from None
    return Environment.model_validate(row)


def rename_environment(conn: Connection, key: str, *, name: str) -> Environment:
    row = conn.execute(
        "UPDATE environments SET name = %s, updated_at = now()"
        f" WHERE key = %s RETURNING {_COLUMNS}",
        (name, key),
    ).fetchone()
    if row is None:
        raise EnvironmentNotFound(f"environment '{key}' does not exist", environment=key)
    return Environment.model_validate(row)


def delete_environment(conn: Connection, key: str) -> None:
    """Deletes the environment with every flag state and rule it holds."""
    if conn.execute("DELETE FROM environments WHERE key = %s", (key,)).rowcount == 0:
        raise EnvironmentNotFound(f"environment '{key}' does not exist", environment=key)
