"""Configuration files carry flag definitions and segments (issue 4): an export imported
into an empty database decides the same, and importing it again changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient

from functions.core import engine
from functions.core.mappers.evaluation import compiled_flag
from functions.devstack.stack import DevStack

pytestmark = pytest.mark.e2e

ClientFactory = Callable[[str, dict[str, str]], FlaskClient]
DatabaseFactory = Callable[[str], str]
CONTEXTS = [{"user_id": f"user-{i}", "plan": ("pro", "free")[i % 2]} for i in range(300)]


def _call(stack: DevStack, key: str, function: str, method: str, path: str, **kw: Any) -> Any:
    response = requests.request(
        method,
        stack.url_of(function) + path,
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
        **kw,
    )
    assert response.status_code in (200, 201), response.text
    if method != "GET" and function != "evaluation":
        stack.settle()  # what the next evaluation decides with
    return response.json()


def _typed_flag_with_segment(stack: DevStack, key: str) -> tuple[str, str]:
    """A staging string flag: its segment gets "blue", everyone else a 70/30 split."""
    segment = f"pro-{uuid.uuid4().hex[:6]}"
    flag = f"typed_{uuid.uuid4().hex[:8]}"
    staging = {"environment": "staging"}
    _call(
        stack,
        key,
        "targeting",
        "POST",
        "/segments",
        json={"key": segment, "conditions": {"attribute": "plan", "op": "eq", "value": "pro"}},
    )
    _call(
        stack,
        key,
        "flags",
        "POST",
        "/flags",
        params=staging,
        json={
            "name": flag,
            "is_enabled": True,
            "type": "string",
            "variants": {"a": "A", "blue": "B", "c": "C"},
            "off_variant": "a",
            "default_variant": "a",
            "tags": ["ui"],
            "owner": "web",
        },
    )
    rules = {
        "rules": [{"type": "SEGMENT", "segments": [segment], "serve": {"variant": "blue"}}],
        "fallthrough": {"split": {"a": 70, "c": 30}},
    }
    _call(
        stack,
        key,
        "targeting",
        "POST",
        "/rules",
        params=staging,
        json={"flag_name": flag, "rules": rules},
    )
    return flag, segment


def test_export_import__typed_flag_and_segment__same_decisions_and_idempotent(
    stack: DevStack, api_key: str, empty_flags: FlaskClient
) -> None:
    # Given a typed flag whose rule uses a segment, exported from staging
    flag, segment = _typed_flag_with_segment(stack, api_key)
    exported = _call(stack, api_key, "flags", "GET", "/export", params={"environment": "staging"})
    headers = {"Authorization": f"Bearer {api_key}"}
    # When it is imported into an empty database, twice
    first = empty_flags.post("/import", json=exported, headers=headers)
    second = empty_flags.post("/import", json=exported, headers=headers)
    # Then the second import changed nothing, and the copy exports what it was given
    assert first.status_code == 200, first.get_data(as_text=True)
    assert {"action": "created", "segment": segment} in first.get_json()["plan"]
    assert second.get_json()["applied"] is False, second.get_json()["plan"]
    copy = empty_flags.get("/export?environment=staging", headers=headers).get_json()
    assert copy == exported
    # And the copy decides like the stack, user for user
    mine = next(f for f in copy["flags"] if f["name"] == flag)
    state = mine["environments"]["staging"]
    rule = {"is_enabled": state["rule"]["enabled"], "rules": state["rule"]["rules"]}
    segments = {s["key"]: s for s in copy["segments"]}
    config = compiled_flag(
        name=flag, flag={**mine, "is_enabled": state["enabled"]}, rule=rule, segments=segments
    )
    assert config.definition is not None and config.definition.kind is engine.FlagKind.STRING
    for context in CONTEXTS:
        decided = engine.evaluate(
            config.definition, config.enabled, config.ruleset, context, config.segments
        )
        served = _call(
            stack,
            api_key,
            "evaluation",
            "POST",
            "/evaluate",
            params={"environment": "staging"},
            json={"flag_name": flag, "context": context},
        )
        assert (decided.variant, decided.value) == (served["variant"], served["value"]), context


def test_import__rule_names_an_unknown_segment__422_with_path(
    api_key: str, empty_flags: FlaskClient
) -> None:
    # Given a document whose rule names a segment neither it nor the database has
    document = {
        "version": 1,
        "environments": [{"key": "staging"}],
        "segments": [{"key": "known"}],
        "flags": [
            {
                "name": "x",
                "environments": {
                    "staging": {
                        "enabled": True,
                        "rule": {
                            "rules": {
                                "rules": [
                                    {
                                        "type": "SEGMENT",
                                        "segments": ["known", "ghost"],
                                        "serve": {"variant": "on"},
                                    }
                                ]
                            }
                        },
                    }
                },
            }
        ],
    }
    # When it is imported
    answer = empty_flags.post(
        "/import", json=document, headers={"Authorization": f"Bearer {api_key}"}
    )
    # Then it is refused naming the reference, and nothing was applied
    assert answer.status_code == 422, answer.get_data(as_text=True)
    assert answer.get_json()["field"] == (
        "$.flags[0].environments.staging.rule.rules.rules[0].segments[1]"
    )
    listed = empty_flags.get("/flags?archived=true", headers={"Authorization": f"Bearer {api_key}"})
    assert listed.get_json() == []


def test_import__type_change_another_environment_rule_uses__422_on_type(
    api_key: str, empty_flags: FlaskClient
) -> None:
    # Given a string flag whose production rule serves "blue", imported
    headers = {"Authorization": f"Bearer {api_key}"}
    rule = {"rules": {"rules": [{"type": "USERS", "users": ["u"], "serve": {"variant": "blue"}}]}}
    flag = {
        "name": "typed",
        "type": "string",
        "variants": {"off": "o", "blue": "b"},
        "off_variant": "off",
        "default_variant": "off",
        "environments": {"production": {"enabled": True, "rule": rule}},
    }
    setup = {"version": 1, "environments": [{"key": "production"}], "flags": [flag]}
    assert empty_flags.post("/import", json=setup, headers=headers).status_code == 200
    # When a staging-only document turns it into a boolean flag
    staging_only = {
        "version": 1,
        "environments": [{"key": "staging"}],
        "flags": [{"name": "typed", "environments": {"staging": {"enabled": True}}}],
    }
    answer = empty_flags.post("/import", json=staging_only, headers=headers)
    # Then it is refused: production's rule would no longer be valid
    assert answer.status_code == 422, answer.get_data(as_text=True)
    assert answer.get_json()["field"] == "$.flags[0].type"
    assert answer.get_json()["environment"] == "production"
    got = empty_flags.get("/flags/typed", headers=headers).get_json()
    assert got.get("type") == "string", got
