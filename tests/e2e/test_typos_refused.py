"""A newcomer's typos are refused, never silently ignored, and every refusal says what to
do instead: unknown body fields and query parameters (422 naming them and the accepted
ones), the body's environment on `POST /evaluate`, keys bound to a missing environment,
and the keys that are refused (401) or may not act (403) saying why."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from functions.devstack.stack import DevStack
from tests.e2e.polling import eventually

pytestmark = pytest.mark.e2e


def _call(
    stack: DevStack, function: str, method: str, path: str, key: str | None, **kwargs: Any
) -> requests.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return requests.request(
        method, stack.url_of(function) + path, headers=headers, timeout=10, **kwargs
    )


def _flag(stack: DevStack, key: str, **fields: Any) -> str:
    name = f"typo_{uuid.uuid4().hex[:8]}"
    response = _call(stack, "flags", "POST", "/flags", key, json={"name": name, **fields})
    assert response.status_code == 201, response.text
    return name


def _assert_unknown_field(response: requests.Response, field: str) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == "unknown_field"
    assert body["field"] == field
    assert body["error"].startswith(f"unknown field '{field}'; accepted fields: ")
    return body


def test_create_flag__is_enable_typo__422_and_no_flag(stack: DevStack, api_key: str) -> None:
    # Given / When the typo is sent
    name = f"typo_flag_{uuid.uuid4().hex[:8]}"
    response = _call(
        stack, "flags", "POST", "/flags", api_key, json={"name": name, "is_enable": True}
    )
    # Then it is refused, naming the field and the accepted ones, and nothing is created
    body = _assert_unknown_field(response, "is_enable")
    assert "is_enabled" in body["accepted"]
    assert _call(stack, "flags", "GET", f"/flags/{name}", api_key).status_code == 404


def test_update_flag__enabled_typo__422_and_nothing_changes(stack: DevStack, api_key: str) -> None:
    # Given an enabled flag
    name = _flag(stack, api_key, is_enabled=True)
    before = _call(stack, "flags", "GET", f"/flags/{name}", api_key).json()
    # When the typo tries to turn it off
    response = _call(stack, "flags", "PUT", f"/flags/{name}", api_key, json={"enabled": False})
    # Then it is refused, and the flag is untouched (still on, same updated_at)
    _assert_unknown_field(response, "enabled")
    assert _call(stack, "flags", "GET", f"/flags/{name}", api_key).json() == before


@pytest.mark.parametrize(
    ("function", "method", "path", "body", "field"),
    [
        ("flags", "POST", "/environments", {"key": "qa", "title": "QA"}, "title"),
        ("flags", "POST", "/flags/x/promote", {"from": "staging", "too": "production"}, "too"),
        ("targeting", "POST", "/rules", {"flag_name": "x", "rules": {}, "enabled": 1}, "enabled"),
        ("targeting", "PUT", "/rules/x", {"rule": {}}, "rule"),
        ("targeting", "POST", "/segments", {"key": "beta", "include": ["u1"]}, "include"),
        ("targeting", "PUT", "/segments/beta", {"exclude": ["u1"]}, "exclude"),
        (
            "evaluation",
            "POST",
            "/evaluate",
            {"flag_name": "x", "context": {"user_id": "u"}, "enviroment": "staging"},
            "enviroment",
        ),
        (
            "evaluation",
            "POST",
            "/evaluate/all",
            {"context": {"user_id": "u"}, "flag": ["x"]},
            "flag",
        ),
    ],
)
def test_any_body__unknown_field__422_naming_it(
    stack: DevStack,
    api_key: str,
    function: str,
    method: str,
    path: str,
    body: dict[str, Any],
    field: str,
) -> None:
    # Given / When a body with a misspelt field
    response = _call(stack, function, method, path, api_key, json=body)
    # Then
    _assert_unknown_field(response, field)


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/admin/keys", {"name": "ci", "scope": ["read"]}, "scope"),
        ("POST", "/admin/keys/1/rotate", {"grace": 60}, "grace"),
    ],
)
def test_key_bodies__unknown_field__422_naming_it(
    stack: DevStack, method: str, path: str, body: dict[str, Any], field: str
) -> None:
    # Given / When
    response = _call(stack, "auth", method, path, stack.master_key, json=body)
    # Then
    _assert_unknown_field(response, field)


@pytest.mark.parametrize(
    ("function", "path", "parameter", "accepted"),
    [
        ("flags", "/flags?enviroment=staging", "enviroment", ["archived", "environment", "tag"]),
        ("flags", "/export?env=staging", "env", ["environment"]),
        ("targeting", "/segments?environment=staging", "environment", []),
    ],
)
def test_query__unknown_parameter__422_naming_it_and_the_accepted_ones(
    stack: DevStack, api_key: str, function: str, path: str, parameter: str, accepted: list[str]
) -> None:
    # Given / When
    response = _call(stack, function, "GET", path, api_key)
    # Then
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "unknown_parameter"
    assert body["parameter"] == parameter
    assert body["accepted"] == accepted
    assert body["error"].startswith(f"unknown query parameter '{parameter}'")


def test_get_evaluate__any_other_parameter__still_a_context_attribute(
    stack: DevStack, api_key: str
) -> None:
    # Given / When the seed's call with attributes in the query string
    response = _call(
        stack,
        "evaluation",
        "GET",
        "/evaluate?user_id=u1&flag_name=nothing_here&plan=pro&country=PT",
        api_key,
    )
    # Then it is answered, as before
    assert response.status_code == 200, response.text


def test_query__mistyped_value__422_saying_what_it_must_be(stack: DevStack) -> None:
    # Given / When
    response = _call(stack, "auth", "GET", "/admin/audit?limit=ten", stack.master_key)
    # Then
    assert response.status_code == 422
    assert response.json()["error"] == (
        "query parameter 'limit' must be a whole number from 1 to 1000"
    )


def _evaluate(stack: DevStack, key: str, flag: str, **body: Any) -> requests.Response:
    return _call(
        stack,
        "evaluation",
        "POST",
        "/evaluate",
        key,
        json={"flag_name": flag, "context": {"user_id": "u1"}, **body},
    )


def test_post_evaluate__environment_in_body__honoured(stack: DevStack, api_key: str) -> None:
    # Given a flag on in staging only
    flag = _flag(stack, api_key)
    assert _call(
        stack,
        "flags",
        "PUT",
        f"/flags/{flag}?environment=staging",
        api_key,
        json={"is_enabled": True},
    ).ok
    # When the body names staging
    answer = eventually(
        lambda: _evaluate(stack, api_key, flag, environment="staging").json(),
        lambda body: body.get("result") is True,
        "the flag on in staging",
    )
    # Then staging answers, while without it production does
    assert answer["environment"] == "staging"
    production = _evaluate(stack, api_key, flag).json()
    assert (production["environment"], production["result"]) == ("production", False)
    every = _call(
        stack,
        "evaluation",
        "POST",
        "/evaluate/all",
        api_key,
        json={"context": {"user_id": "u1"}, "flags": [flag], "environment": "staging"},
    ).json()
    assert every["environment"] == "staging"
    assert every["flags"][flag]["result"] is True


def test_post_evaluate__unknown_environment_in_body__404_as_in_the_query(
    stack: DevStack, api_key: str
) -> None:
    # Given / When the typo is sent in the body, then in the query string
    in_body = _evaluate(stack, api_key, "any_flag", environment="prod")
    in_query = _call(
        stack,
        "evaluation",
        "POST",
        "/evaluate?environment=prod",
        api_key,
        json={"flag_name": "any_flag", "context": {"user_id": "u1"}},
    )
    # Then both answer the same 404
    assert in_body.status_code == in_query.status_code == 404
    assert in_body.json() == in_query.json()
    assert in_body.json()["error"] == "environment 'prod' does not exist"


def test_post_evaluate__query_and_body_differ__422_saying_so(stack: DevStack, api_key: str) -> None:
    # Given / When
    response = _call(
        stack,
        "evaluation",
        "POST",
        "/evaluate?environment=production",
        api_key,
        json={"flag_name": "f", "context": {"user_id": "u1"}, "environment": "staging"},
    )
    # Then
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["field"] == "environment"
    assert "'production'" in body["error"] and "'staging'" in body["error"]


def test_create_key__missing_environment__422_listing_the_existing_ones(stack: DevStack) -> None:
    # Given / When a key is bound to an environment that does not exist
    response = _call(
        stack,
        "auth",
        "POST",
        "/admin/keys",
        stack.master_key,
        json={"name": "app", "environment": "prod"},
    )
    # Then it is refused, listing the environments there are
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["field"] == "environment"
    assert {"production", "staging"} <= set(body["environments"])
    assert body["error"].startswith("environment 'prod' does not exist; existing environments: ")


def test_master_key__outside_admin__401_saying_where_it_works(stack: DevStack) -> None:
    # Given / When the master key is used on flags and on evaluation
    answers = [
        _call(stack, "flags", "GET", "/flags", stack.master_key),
        _call(stack, "evaluation", "GET", "/evaluate?user_id=u&flag_name=f", stack.master_key),
    ]
    # Then each says the master key only opens /admin, and how to get an API key
    for response in answers:
        assert response.status_code == 401, response.text
        assert "master key, it only opens /admin/*" in response.json()["error"]
        assert "POST /admin/keys" in response.json()["error"]


def test_wrong_master_key__admin__403_as_the_seed_saying_why(stack: DevStack) -> None:
    # Given / When a wrong master key, and none
    wrong = _call(stack, "auth", "GET", "/admin/keys", "not-the-master-key")
    missing = requests.get(f"{stack.url_of('auth')}/admin/keys", timeout=10)
    # Then both are the seed's 403 (DESIGN.md §2), each saying why
    assert (wrong.status_code, wrong.json()["reason"]) == (403, "not_a_key")
    assert (missing.status_code, missing.json()["reason"]) == (403, "missing")


def test_good_key_without_the_right__403_saying_which(stack: DevStack) -> None:
    # Given a key that may only read
    reader = stack.new_key("reader", scopes=["read"])
    # When it writes, and manages keys
    answers = [
        _call(stack, "flags", "POST", "/flags", reader, json={"name": "nope"}),
        _call(stack, "auth", "GET", "/admin/keys", reader),
    ]
    # Then each is 403 naming the scope it lacks
    assert [response.status_code for response in answers] == [403, 403]
    assert "lacks the 'write' scope" in answers[0].json()["error"]
    assert "lacks the 'admin' scope" in answers[1].json()["error"]


def _key_id(stack: DevStack, key: str) -> int:
    listed = _call(stack, "auth", "GET", "/admin/keys", stack.master_key).json()
    return next(int(entry["id"]) for entry in listed if key.startswith(entry["prefix"] or "-"))


def test_revoked_and_rotated_keys__401_saying_which(stack: DevStack) -> None:
    # Given a key revoked and one rotated out (no grace)
    revoked = stack.new_key("gone")
    rotated = stack.new_key("old")
    revoked_id, rotated_id = _key_id(stack, revoked), _key_id(stack, rotated)
    assert _call(stack, "auth", "POST", f"/admin/keys/{revoked_id}/revoke", stack.master_key).ok
    replacement = _call(
        stack, "auth", "POST", f"/admin/keys/{rotated_id}/rotate", stack.master_key
    ).json()
    # When each is used on flags
    refused = [_call(stack, "flags", "GET", "/flags", key) for key in (revoked, rotated)]
    # Then each says which, and what to use instead
    assert refused[0].json()["reason"] == "revoked"
    assert refused[0].json()["error"].startswith("this key was revoked at ")
    assert refused[1].json()["reason"] == "rotated"
    assert refused[1].json()["error"].endswith(f"use its replacement (key id {replacement['id']})")
    # And evaluation, which holds usable keys only, says it may be either
    evaluation = eventually(
        lambda: _call(stack, "evaluation", "GET", "/evaluate?user_id=u&flag_name=f", revoked),
        lambda response: response.status_code == 401,
        "the revoked key refused by evaluation",
    )
    assert evaluation.json()["error"].startswith("unknown, revoked or rotated-out API key")


def test_ofrep__extra_body_member_and_context_attributes__not_refused(
    stack: DevStack, api_key: str
) -> None:
    # Given / When an OFREP body with a member the protocol may add later
    response = _call(
        stack,
        "evaluation",
        "POST",
        "/ofrep/v1/evaluate/flags",
        api_key,
        json={"context": {"targetingKey": "u1", "plan": "pro"}, "later": True},
    )
    # Then it is answered
    assert response.status_code == 200, response.text


def test_ofrep__unknown_query_parameter__the_protocol_s_general_error(
    stack: DevStack, api_key: str
) -> None:
    # Given / When
    response = _call(
        stack,
        "evaluation",
        "POST",
        "/ofrep/v1/evaluate/flags?env=staging",
        api_key,
        json={"context": {"targetingKey": "u1"}},
    )
    # Then the protocol's own error shape, naming the parameter
    assert response.status_code == 400
    assert response.json()["errorCode"] == "GENERAL"
    assert "unknown query parameter 'env'" in response.json()["errorDetails"]
