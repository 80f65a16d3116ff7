"""Environments over real HTTP: per-environment state, keys bound to one
environment, promotion (issue: environments)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from functions.core.engine import seed_bucket
from functions.devstack.stack import DevStack

pytestmark = pytest.mark.e2e


_written = [False]
"""A write since the last evaluation: the next one first waits for evaluation to hold it."""


def _call(method: str, url: str, key: str, **kwargs: Any) -> requests.Response:
    _written[0] = _written[0] or (method != "GET" and "/evaluate" not in url)
    return requests.request(
        method, url, headers={"Authorization": f"Bearer {key}"}, timeout=10, **kwargs
    )


def _bound_key(stack: DevStack, environment: str) -> str:
    response = _call(
        "POST",
        f"{stack.url_of('auth')}/admin/keys",
        stack.master_key,
        json={"name": f"app-{environment}", "environment": environment},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["key"])


def _evaluate(stack: DevStack, key: str, flag: str, user: str, **params: str) -> dict[str, Any]:
    if _written[0]:
        stack.settle()
        _written[0] = False
    response = _call(
        "GET",
        f"{stack.url_of('evaluation')}/evaluate",
        key,
        params={"user_id": user, "flag_name": flag, **params},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _new_flag(stack: DevStack, key: str, **params: str) -> str:
    flag = f"env_flag_{uuid.uuid4().hex[:8]}"
    made = _call(
        "POST",
        f"{stack.url_of('flags')}/flags",
        key,
        params=params,
        json={"name": flag, "is_enabled": True},
    )
    assert made.status_code == 201, made.text
    return flag


def test_evaluate__enabled_in_staging_only__bound_keys_see_their_environment(
    stack: DevStack, api_key: str
) -> None:
    # Given a flag created enabled in staging (so disabled in production)
    flag = _new_flag(stack, api_key, environment="staging")
    staging_key, production_key = _bound_key(stack, "staging"), _bound_key(stack, "production")
    # When the same user is evaluated with each bound key
    staging = _evaluate(stack, staging_key, flag, "user-7")
    production = _evaluate(stack, production_key, flag, "user-7")
    # Then each key sees its own environment
    assert staging["result"] is True and staging["environment"] == "staging"
    assert production["result"] is False and production["environment"] == "production"
    # And the unbound key, naming no environment, acts on the default one (production)
    assert _evaluate(stack, api_key, flag, "user-7")["result"] is False
    assert _evaluate(stack, api_key, flag, "user-7", environment="staging")["result"] is True


def test_bound_key__names_another_environment__403_naming_both(stack: DevStack) -> None:
    # Given a staging-bound key, which evaluation holds (its notice arrives a few
    # milliseconds after the write returns)
    key = _bound_key(stack, "staging")
    stack.settle()
    # When it names production on each function
    answers = [
        _call(
            "GET",
            f"{stack.url_of('evaluation')}/evaluate",
            key,
            params={"user_id": "u", "flag_name": "f", "environment": "production"},
        ),
        _call("GET", f"{stack.url_of('flags')}/flags", key, params={"environment": "production"}),
        _call(
            "GET", f"{stack.url_of('targeting')}/rules/f", key, params={"environment": "production"}
        ),
    ]
    # Then each answers 403 with an error naming both environments
    for answer in answers:
        assert answer.status_code == 403, answer.text
        assert "staging" in answer.json()["error"] and "production" in answer.json()["error"]


def test_unknown_environment__any_function__404_clear_error(stack: DevStack, api_key: str) -> None:
    # Given / When an environment that does not exist is named
    answers = [
        _call("GET", f"{stack.url_of('flags')}/flags", api_key, params={"environment": "qa"}),
        _call("GET", f"{stack.url_of('targeting')}/rules/x", api_key, params={"environment": "qa"}),
        _call(
            "GET",
            f"{stack.url_of('evaluation')}/evaluate",
            api_key,
            params={"user_id": "u", "flag_name": _new_flag(stack, api_key), "environment": "qa"},
        ),
    ]
    # Then
    for answer in answers:
        assert answer.status_code == 404, answer.text
        assert "qa" in answer.json()["error"]


def test_environments__crud__default_protected(stack: DevStack, api_key: str) -> None:
    # Given the migrated environments
    flags = stack.url_of("flags")
    listed = {e["key"] for e in _call("GET", f"{flags}/environments", api_key).json()}
    assert {"development", "staging", "production"} <= listed
    key = f"qa-{uuid.uuid4().hex[:6]}"
    # When one is created, renamed, duplicated, deleted, and the default deleted
    created = _call("POST", f"{flags}/environments", api_key, json={"key": key})
    renamed = _call("PUT", f"{flags}/environments/{key}", api_key, json={"name": "Quality"})
    duplicate = _call("POST", f"{flags}/environments", api_key, json={"key": key})
    deleted = _call("DELETE", f"{flags}/environments/{key}", api_key)
    default = _call("DELETE", f"{flags}/environments/production", api_key)
    bad = _call("POST", f"{flags}/environments", api_key, json={"key": "Has Spaces"})
    # Then
    assert created.status_code == 201 and created.json()["key"] == key
    assert renamed.json()["name"] == "Quality"
    assert duplicate.status_code == 409
    assert deleted.status_code == 204
    assert _call("GET", f"{flags}/environments/{key}", api_key).status_code == 404
    assert default.status_code == 409 and "default" in default.json()["error"]
    assert bad.status_code == 422


def test_delete_environment__keys_bound__409(stack: DevStack, api_key: str) -> None:
    # Given an environment with a key bound to it
    key = f"bound-{uuid.uuid4().hex[:6]}"
    flags = stack.url_of("flags")
    assert _call("POST", f"{flags}/environments", api_key, json={"key": key}).status_code == 201
    _bound_key(stack, key)
    # When it is deleted
    answer = _call("DELETE", f"{flags}/environments/{key}", api_key)
    # Then it is refused, and still there
    assert answer.status_code == 409, answer.text
    assert "bound" in answer.json()["error"]
    assert _call("GET", f"{flags}/environments/{key}", api_key).status_code == 200


def test_promote__staging_to_production__dry_run_diff_then_same_decisions_for_1000_users(
    stack: DevStack, api_key: str
) -> None:
    # Given a flag on in staging with a 25 % rule, off in production with a 70 % rule
    flag = _new_flag(stack, api_key, environment="staging")
    targeting = stack.url_of("targeting")
    for environment, share in (("staging", 25), ("production", 70)):
        made = _call(
            "POST",
            f"{targeting}/rules",
            api_key,
            params={"environment": environment},
            json={"flag_name": flag, "rules": {"type": "PERCENTAGE", "value": share}},
        )
        assert made.status_code == 201
    promote = f"{stack.url_of('flags')}/flags/{flag}/promote"
    # When a dry run is asked
    dry = _call(
        "POST", promote, api_key, json={"from": "staging", "to": "production", "dry_run": True}
    )
    # Then it shows the difference and changes nothing
    assert dry.status_code == 200, dry.text
    changes = dry.json()["changes"]
    assert changes["is_enabled"] == {"from": False, "to": True}
    assert changes["rule"]["from"]["rules"]["value"] == 70
    assert changes["rule"]["to"]["rules"]["value"] == 25
    assert _evaluate(stack, api_key, flag, "user-1")["result"] is False
    # When it is applied
    applied = _call("POST", promote, api_key, json={"from": "staging", "to": "production"})
    assert applied.json()["applied"] is True
    # Then production decides exactly like staging for 1 000 users
    for i in range(1000):
        user = f"user-{i}"
        expected = seed_bucket(user, flag) < 25
        assert _evaluate(stack, api_key, flag, user)["result"] is expected, user
    again = _call("POST", promote, api_key, json={"from": "staging", "to": "production"})
    assert again.json()["changes"] == {} and again.json()["applied"] is False


def test_promote__bound_key_to_other_environment__403(stack: DevStack, api_key: str) -> None:
    # Given a staging-bound key
    flag = _new_flag(stack, api_key)
    key = _bound_key(stack, "staging")
    # When it promotes into production
    answer = _call(
        "POST",
        f"{stack.url_of('flags')}/flags/{flag}/promote",
        key,
        json={"from": "staging", "to": "production"},
    )
    # Then
    assert answer.status_code == 403
