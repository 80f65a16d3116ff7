"""The `targeting_rules` table, owned by the targeting function."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from functions.core.db import Connection
from functions.core.errors import Conflict, NotFound
from functions.core.models import Rule

_COLUMNS = "id, flag_name, is_enabled, rules, created_at, updated_at"


def get_rule(conn: Connection, flag_name: str) -> Rule:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM targeting_rules WHERE flag_name = %s", (flag_name,)
    ).fetchone()
    if row is None:
        raise NotFound(f"no rule for flag '{flag_name}'", flag_name=flag_name)
    return Rule.model_validate(row)


def create_rule(conn: Connection, *, flag_name: str, rules: Any, is_enabled: bool) -> Rule:
    try:
        with conn.transaction():
            row = conn.execute(
                f"INSERT INTO targeting_rules (flag_name, rules, is_enabled) VALUES (%s, %s, %s)"
                f" RETURNING {_COLUMNS}",
                (flag_name, Jsonb(rules), is_enabled),
            ).fetchone()
    except psycopg.errors.UniqueViolation:
        raise Conflict(
            f"a rule for flag '{flag_name}' already exists", flag_name=flag_name
        ) from None
    except psycopg.errors.ForeignKeyViolation:
        raise NotFound(f"flag '{flag_name}' not found", flag_name=flag_name) from None
    return Rule.model_validate(row)


def update_rule(conn: Connection, flag_name: str, *, changes: dict[str, Any]) -> Rule:
    assignments, values = [], []
    if "rules" in changes:
        assignments.append("rules = %s")
        values.append(Jsonb(changes["rules"]))
    if "is_enabled" in changes:
        assignments.append("is_enabled = %s")
        values.append(changes["is_enabled"])
    row = conn.execute(
        f"UPDATE targeting_rules SET {', '.join([*assignments, 'updated_at = now()'])}"
        f" WHERE flag_name = %s RETURNING {_COLUMNS}",
        (*values, flag_name),
    ).fetchone()
    if row is None:
        raise NotFound(f"no rule for flag '{flag_name}'", flag_name=flag_name)
    return Rule.model_validate(row)


def delete_rule(conn: Connection, flag_name: str) -> None:
    if conn.execute("DELETE FROM targeting_rules WHERE flag_name = %s", (flag_name,)).rowcount == 0:
        raise NotFound(f"no rule for flag '{flag_name}'", flag_name=flag_name)
