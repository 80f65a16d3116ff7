"""Numbers too large for a double (``1`` and 400 zeros is valid JSON) in rules and
segments once overflowed ``float()`` into a 500: each is now a 422 naming the field,
and nothing is written."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from flask.testing import FlaskClient

from functions.core.adapters.db import transaction
from functions.core.adapters.migrations import migrate
from functions.core.stores.keys import create_key

ClientFactory = Callable[[str, dict[str, str]], FlaskClient]
DatabaseFactory = Callable[[str], str]

HUGE = 10**400
FLAG = "huge-numbers"


def _leaf(op: str, value: object) -> dict[str, Any]:
    return {"attribute": "signed_up", "op": op, "value": value}


def _conditions_rule(clause: dict[str, Any]) -> dict[str, Any]:
    return {"rules": [{"type": "CONDITIONS", "conditions": clause, "serve": {"variant": "on"}}]}


@pytest.fixture
def targeting(
    function_client: ClientFactory,
    fresh_database: DatabaseFactory,
    redis_url: str,
    auth_db: str,
) -> tuple[FlaskClient, dict[str, str], str]:
    """The targeting function on a migrated database holding one boolean flag, and the
    headers of a write key in auth's table (which targeting reads)."""
    url = fresh_database("huge_numbers")
    migrate(url, ["flags", "targeting"])
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO flags (name) VALUES (%s)", (FLAG,))
    with transaction(auth_db) as conn:
        _, key = create_key(conn, name="writer", scopes={"read", "write"})
    client = function_client(
        "targeting",
        {
            "DATABASE_URL": url,
            "REDIS_URL": redis_url,
            "AUTH_SERVICE_URL": "http://127.0.0.1:9",
            "AUTH_DATABASE_URL": auth_db,
        },
    )
    return client, {"Authorization": f"Bearer {key}"}, url


@pytest.mark.parametrize(
    ("rules", "field"),
    [
        pytest.param(
            _conditions_rule(_leaf("before", HUGE)),
            "$.rules.rules[0].conditions.value",
            id="before",
        ),
        pytest.param(
            _conditions_rule(_leaf("after", -HUGE)), "$.rules.rules[0].conditions.value", id="after"
        ),
        pytest.param(
            _conditions_rule(_leaf("gt", HUGE)), "$.rules.rules[0].conditions.value", id="gt"
        ),
        pytest.param(
            {"rules": [], "fallthrough": {"split": {"on": HUGE, "off": 0.5}}},
            "$.rules.fallthrough.split.on",
            id="split weight",
        ),
        pytest.param(
            {"type": "PERCENTAGE", "value": HUGE}, "$.rules.value", id="legacy percentage"
        ),
    ],
)
def test_post_rules__number_beyond_a_double__422_naming_the_field(
    targeting: tuple[FlaskClient, dict[str, str], str], rules: dict[str, Any], field: str
) -> None:
    # Given a rule document holding a number no double can hold
    client, headers, url = targeting
    body = json.dumps({"flag_name": FLAG, "rules": rules})

    # When it is posted
    response = client.post("/rules", data=body, content_type="application/json", headers=headers)

    # Then it is refused as unprocessable, naming the field, and nothing is stored
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.get_json()["field"] == field
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM targeting_rules").fetchone() == (0,)


@pytest.mark.parametrize("op", ["before", "after", "lte"])
def test_post_segments__number_beyond_a_double__422_naming_the_field(
    targeting: tuple[FlaskClient, dict[str, str], str], op: str
) -> None:
    # Given a segment whose condition holds a number no double can hold
    client, headers, url = targeting
    body = json.dumps({"key": "early", "conditions": {"all": [_leaf(op, HUGE)]}})

    # When it is posted
    response = client.post("/segments", data=body, content_type="application/json", headers=headers)

    # Then it is refused as unprocessable, naming the field, and nothing is stored
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.get_json()["field"] == "$.conditions.all[0].value"
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM segments").fetchone() == (0,)
