"""The `targeting_rules` table, owned by the targeting function: one rule document
per flag and environment, with the grammar it was written in (`engine.grammar`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from functions.core.adapters.db import Connection
from functions.core.errors import Conflict, FlagNotFound, NotFound
from functions.core.models.targeting import Rule

_COLUMNS = "id, flag_name, environment, is_enabled, rules, grammar, created_at, updated_at"


def _missing(flag_name: str, environment: str) -> NotFound:
    return NotFound(
        f"no rule for flag '{flag_name}' in environment '{environment}'",
        flag_name=flag_name,
        environment=environment,
    )


def rule_view(rule: Rule | None) -> dict[str, Any] | None:
    """What decides, without ids and timestamps: for diffs (the grammar is part of what
    the document means)."""
    if rule is None:
        return None
    return {"is_enabled": rule.is_enabled, "rules": rule.rules, "grammar": rule.grammar}


def find_rule(
    conn: Connection, flag_name: str, *, environment: str, lock: bool = False
) -> Rule | None:
    """`lock`: the row stays locked until the transaction ends (a checked write)."""
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM targeting_rules WHERE flag_name = %s AND environment = %s"
        + (" FOR UPDATE" if lock else ""),
        (flag_name, environment),
    ).fetchone()
    return Rule.model_validate(row) if row else None


def get_rule(conn: Connection, flag_name: str, *, environment: str, lock: bool = False) -> Rule:
    rule = find_rule(conn, flag_name, environment=environment, lock=lock)
    if rule is None:
        raise _missing(flag_name, environment)
    return rule


def create_rule(
    conn: Connection,
    *,
    flag_name: str,
    environment: str,
    rules: Any,
    is_enabled: bool,
    grammar: int,
) -> Rule:
    try:
        with conn.transaction():
            row = conn.execute(
                "INSERT INTO targeting_rules (flag_name, environment, rules, is_enabled, grammar)"
                f" VALUES (%s, %s, %s, %s, %s) RETURNING {_COLUMNS}",
                (flag_name, environment, Jsonb(rules), is_enabled, grammar),
            ).fetchone()
    except psycopg.errors.UniqueViolation:
        raise Conflict(
            f"a rule for flag '{flag_name}' already exists in environment '{environment}':"
            f" change it with PUT /rules/{flag_name}",
            flag_name=flag_name,
            environment=environment,
        ) from None
    except psycopg.errors.ForeignKeyViolation:
        raise FlagNotFound(f"flag '{flag_name}' not found", flag_name=flag_name) from None
    return Rule.model_validate(row)


def update_rule(
    conn: Connection, flag_name: str, *, environment: str, changes: dict[str, Any]
) -> Rule:
    """`changes`: `rules` (with the `grammar` it was written in) and/or `is_enabled`."""
    assignments, values = [], []
    if "rules" in changes:
        assignments.append("rules = %s")
        values.append(Jsonb(changes["rules"]))
        assignments.append("grammar = %s")
        values.append(changes["grammar"])
    if "is_enabled" in changes:
        assignments.append("is_enabled = %s")
        values.append(changes["is_enabled"])
    row = conn.execute(
        f"UPDATE targeting_rules SET {', '.join([*assignments, 'updated_at = now()'])}"
        f" WHERE flag_name = %s AND environment = %s RETURNING {_COLUMNS}",
        (*values, flag_name, environment),
    ).fetchone()
    if row is None:
        raise _missing(flag_name, environment)
    return Rule.model_validate(row)


def delete_rule(conn: Connection, flag_name: str, *, environment: str) -> bool:
    cursor = conn.execute(
        "DELETE FROM targeting_rules WHERE flag_name = %s AND environment = %s",
        (flag_name, environment),
    )
    return cursor.rowcount > 0


def rules_of_environment(conn: Connection, *, environment: str) -> dict[str, Rule]:
    """Every rule of `environment` by flag name, in one statement (export, import plans)."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM targeting_rules WHERE environment = %s", (environment,)
    ).fetchall()
    return {row["flag_name"]: Rule.model_validate(row) for row in rows}


def put_rules(conn: Connection, rules: Sequence[tuple[str, str, Any, bool, int]]) -> None:
    """Create or replace `(flag name, environment, rules, is_enabled, grammar)` for many
    flags, pipelined (import, promotion); one written unchanged is left alone (no new
    version)."""
    if rules:
        with conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO targeting_rules (flag_name, environment, rules, is_enabled, grammar)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (flag_name, environment) DO UPDATE"
                " SET rules = EXCLUDED.rules, is_enabled = EXCLUDED.is_enabled,"
                " grammar = EXCLUDED.grammar, updated_at = now()"
                " WHERE (targeting_rules.rules, targeting_rules.is_enabled,"
                " targeting_rules.grammar)"
                " IS DISTINCT FROM (EXCLUDED.rules, EXCLUDED.is_enabled, EXCLUDED.grammar)",
                [
                    (name, environment, Jsonb(doc), on, grammar)
                    for name, environment, doc, on, grammar in rules
                ],
            )


def delete_rules(conn: Connection, rules: Sequence[tuple[str, str]]) -> None:
    """Delete the rule of each `(flag name, environment)` that has one, pipelined."""
    if rules:
        with conn.cursor() as cursor:
            cursor.executemany(
                "DELETE FROM targeting_rules WHERE flag_name = %s AND environment = %s", rules
            )


def rules_of_flag(conn: Connection, flag_name: str) -> list[Rule]:
    """The flag's rule in every environment (a definition change must fit them all)."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM targeting_rules WHERE flag_name = %s ORDER BY environment",
        (flag_name,),
    ).fetchall()
    return [Rule.model_validate(row) for row in rows]


def rules_naming_segment(conn: Connection, key: str) -> list[dict[str, str]]:
    """`{flag_name, environment}` of every stored rule that names `key`: by a SEGMENT rule,
    or by a `{"segment": key}` clause at any depth of its conditions."""
    rows = conn.execute(
        "SELECT flag_name, environment FROM targeting_rules"
        " WHERE rules @> jsonb_build_object('rules', jsonb_build_array("
        "   jsonb_build_object('type', 'SEGMENT', 'segments', jsonb_build_array(%s::text))))"
        " OR jsonb_path_exists(rules, 'lax $.rules[*].conditions.** ? (@.segment == $key)',"
        "   jsonb_build_object('key', %s::text))"
        " ORDER BY flag_name, environment",
        (key, key),
    ).fetchall()
    return [{"flag_name": row["flag_name"], "environment": row["environment"]} for row in rows]


_PREREQUISITES_LOCK = "tm_prerequisites:"


def lock_prerequisites(conn: Connection, environment: str) -> None:
    """One write of prerequisites per environment at a time, until the transaction ends,
    so that two writes cannot each add half of a cycle."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (_PREREQUISITES_LOCK + environment,))


def prerequisite_edges(conn: Connection, environment: str) -> dict[str, list[str]]:
    """Flag -> the flags its stored rule (enabled or not) requires, in `environment`."""
    rows = conn.execute(
        "SELECT flag_name, rules->'prerequisites' AS prerequisites FROM targeting_rules"
        " WHERE environment = %s AND jsonb_typeof(rules->'prerequisites') = 'array'",
        (environment,),
    ).fetchall()
    return {
        row["flag_name"]: [
            item["flag"]
            for item in row["prerequisites"]
            if isinstance(item, dict) and isinstance(item.get("flag"), str)
        ]
        for row in rows
    }


def rules_requiring(conn: Connection, flag_name: str) -> list[dict[str, str]]:
    """`{flag_name, environment}` of every stored rule that lists `flag_name` as a
    prerequisite."""
    rows = conn.execute(
        "SELECT flag_name, environment FROM targeting_rules"
        " WHERE rules->'prerequisites' @> jsonb_build_array(jsonb_build_object('flag', %s::text))"
        " ORDER BY flag_name, environment",
        (flag_name,),
    ).fetchall()
    return [{"flag_name": row["flag_name"], "environment": row["environment"]} for row in rows]
