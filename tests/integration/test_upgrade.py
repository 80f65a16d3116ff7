"""A database at the foundation's schema, with data, migrated forward, serves the
same decisions (issue: environments, "the upgrade test")."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from flask.testing import FlaskClient
from psycopg.rows import dict_row

from functions.core import engine
from functions.core.adapters.db import transaction
from functions.core.adapters.migrations import migrate
from functions.core.mappers.evaluation import compiled_flag
from functions.core.stores.flags import get_flag

ClientFactory = Callable[[str, dict[str, str]], FlaskClient]
DatabaseFactory = Callable[[str], str]
USERS = [f"user-{i}" for i in range(1000)]
SEED_DATA = [
    ("on_no_rule", True, None),
    ("off_with_rule", False, {"type": "PERCENTAGE", "value": 50}),
    ("thirty", True, {"type": "PERCENTAGE", "value": 30}),
    ("rule_disabled", True, "disabled"),
]


def _seed_decisions(
    flag: dict[str, Any] | None, rule: dict[str, Any] | None, name: str
) -> list[bool]:
    """The old system's decision, written out from DESIGN.md §2 without our engine."""
    decisions = []
    for user in USERS:
        if flag is None or not flag["is_enabled"]:
            decisions.append(False)
        elif rule is None or not rule["is_enabled"]:
            decisions.append(True)
        else:
            digest = hashlib.sha1((user + name).encode()).digest()
            decisions.append(int.from_bytes(digest[:4], "big") % 100 < rule["rules"]["value"])
    return decisions


def _decisions(flag: dict[str, Any] | None, rule: dict[str, Any] | None, name: str) -> list[Any]:
    config = compiled_flag(name=name, flag=flag, rule=rule)
    return [
        engine.evaluate(config.definition, config.enabled, config.ruleset, {"user_id": u}).value
        for u in USERS
    ]


def test_upgrade__foundation_database_with_data__same_decisions_after_migration(
    fresh_database: DatabaseFactory, sql_up_to: Callable[[int], Path]
) -> None:
    # Given a configuration database at the foundation's schema, holding flags and rules
    url = fresh_database("upgrade")
    migrate(url, ["flags", "targeting"], sql_up_to(1))
    before: dict[str, list[Any]] = {}
    with psycopg.connect(url, row_factory=dict_row) as conn:
        for name, enabled, rules in SEED_DATA:
            conn.execute("INSERT INTO flags (name, is_enabled) VALUES (%s, %s)", (name, enabled))
            if rules is not None:
                document = {"type": "PERCENTAGE", "value": 100} if rules == "disabled" else rules
                conn.execute(
                    "INSERT INTO targeting_rules (flag_name, rules, is_enabled)"
                    " VALUES (%s, %s, %s)",
                    (name, json.dumps(document), rules != "disabled"),
                )
        for name, _, _ in SEED_DATA:
            flag = conn.execute("SELECT is_enabled FROM flags WHERE name = %s", (name,)).fetchone()
            rule = conn.execute(
                "SELECT is_enabled, rules FROM targeting_rules WHERE flag_name = %s", (name,)
            ).fetchone()
            before[name] = _seed_decisions(flag, rule, name)

    # When it is migrated forward with the current sql/
    applied = migrate(url, ["flags", "targeting"])

    # Then the environments migrations ran and the default environment decides as before
    assert "flags/002_environments" in applied
    with psycopg.connect(url, row_factory=dict_row) as conn:
        for name, _, _ in SEED_DATA:
            flag = conn.execute(
                "SELECT s.is_enabled FROM flags f JOIN flag_states s ON s.flag_id = f.id"
                " WHERE f.name = %s AND s.environment = 'production'",
                (name,),
            ).fetchone()
            rule = conn.execute(
                "SELECT is_enabled, rules FROM targeting_rules"
                " WHERE flag_name = %s AND environment = 'production'",
                (name,),
            ).fetchone()
            assert _decisions(flag, rule, name) == before[name], name
            staging = conn.execute(
                "SELECT count(*) AS n FROM flag_states s JOIN flags f ON f.id = s.flag_id"
                " WHERE f.name = %s AND s.environment <> 'production'",
                (name,),
            ).fetchone()
            assert staging == {"n": 0}  # every other environment starts disabled


def test_upgrade__served_by_the_flags_function__rows_unchanged_for_seed_clients(
    fresh_database: DatabaseFactory, sql_up_to: Callable[[int], Path]
) -> None:
    # Given a foundation database with one enabled flag, migrated forward
    url = fresh_database("upgrade_rows")
    migrate(url, ["flags", "targeting"], sql_up_to(1))
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO flags (name, description, is_enabled) VALUES ('x', 'd', TRUE)")
    migrate(url, ["flags", "targeting"])
    # When the flag is read as the flags function reads it, in the default environment
    with transaction(url) as conn:
        flag = get_flag(conn, "x", environment="production")
        other = get_flag(conn, "x", environment="staging")
    # Then the seed's fields are as they were
    assert (flag.name, flag.description, flag.is_enabled) == ("x", "d", True)
    assert other.is_enabled is False
