"""A database at the environments schema, with data, migrated to typed flags and
segments (issue 4): every flag becomes the seed's boolean and decides as before."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from functions.core import engine
from functions.core.adapters.db import transaction
from functions.core.adapters.migrations import migrate
from functions.core.mappers.evaluation import compiled_flag
from functions.core.stores.flags import get_flag

DatabaseFactory = Callable[[str], str]
USERS = [f"user-{i}" for i in range(500)]


def _decisions(flag: dict[str, Any], rule: dict[str, Any] | None) -> list[Any]:
    config = compiled_flag(name="thirty", flag=flag, rule=rule)
    return [
        engine.evaluate(config.definition, config.enabled, config.ruleset, {"user_id": u}).value
        for u in USERS
    ]


def test_upgrade__environments_database_with_a_rule__boolean_flag_same_decisions(
    fresh_database: DatabaseFactory, sql_up_to: Callable[[int], Path]
) -> None:
    # Given a database at the environments schema with an enabled flag and a 30 % rule
    url = fresh_database("upgrade_targeting")
    migrate(url, ["flags", "targeting"], sql_up_to(2))
    rule = {"is_enabled": True, "rules": {"type": "PERCENTAGE", "value": 30}}
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO flags (name) VALUES ('thirty')")
        conn.execute(
            "INSERT INTO flag_states (flag_id, environment, is_enabled)"
            " SELECT id, 'production', TRUE FROM flags"
        )
        conn.execute(
            "INSERT INTO targeting_rules (flag_name, environment, rules) VALUES (%s, %s, %s)",
            ("thirty", "production", json.dumps(rule["rules"])),
        )
    before = _decisions({"is_enabled": True}, rule)

    # When it is migrated forward
    applied = migrate(url, ["flags", "targeting"])

    # Then the flag reads as the seed's boolean flag and decides as before
    assert applied == [
        "flags/003_flag_definitions",
        "targeting/003_segments",
        "targeting/004_change_log",
        "targeting/005_grammar_versions",
    ]
    with transaction(url) as conn:
        flag = get_flag(conn, "thirty", environment="production")
    assert (flag.type, flag.variants, flag.off_variant, flag.default_variant) == (
        "boolean",
        {"on": True, "off": False},
        "off",
        "on",
    )
    assert (flag.tags, flag.owner, flag.archived) == ([], None, False)
    assert _decisions(flag.model_dump(mode="json"), rule) == before
    with psycopg.connect(url, row_factory=dict_row) as conn:
        assert conn.execute("SELECT count(*) AS n FROM segments").fetchone() == {"n": 0}
        # and the rule keeps the grammar it was written in: 1, the meaning it always had
        assert conn.execute("SELECT grammar FROM targeting_rules").fetchall() == [{"grammar": 1}]
