"""Import and rules as a CPU lever, over real HTTP: a large YAML body is refused before it
is read, documents beyond the caps are refused naming the cap on every path that writes
rules or segments (the API, import, promotion), and nothing is written."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import psycopg
import pytest
import requests
import yaml

from functions.core.engine import limits
from functions.core.settings import IMPORT_MAX_BYTES
from functions.devstack.stack import DevStack

pytestmark = pytest.mark.e2e


def _call(
    stack: DevStack, function: str, method: str, path: str, key: str, **kwargs: Any
) -> requests.Response:
    headers = {"Authorization": f"Bearer {key}", **kwargs.pop("headers", {})}
    return requests.request(
        method, stack.url_of(function) + path, headers=headers, timeout=60, **kwargs
    )


def _flag(stack: DevStack, key: str) -> str:
    name = f"capped_{uuid.uuid4().hex[:8]}"
    made = _call(stack, "flags", "POST", "/flags", key, json={"name": name})
    assert made.status_code == 201, made.text
    return name


def _assert_cap(answer: requests.Response, limit: str, maximum: int) -> None:
    assert answer.status_code == 422, answer.text[:500]
    body = answer.json()
    assert body["code"] == "limit_exceeded"
    assert body["limit"] == limit and body["maximum"] == maximum
    assert limit in body["error"]


def _document(flags: list[dict[str, Any]]) -> dict[str, Any]:
    return {"version": 1, "environments": [{"key": "staging"}], "flags": flags}


def test_import__yaml_of_2_4_mb__413_before_it_is_read(stack: DevStack, api_key: str) -> None:
    # Given the 2.4 MB YAML document that once took 6.2 s of CPU to parse
    flags = [
        {
            "name": f"big_{uuid.uuid4().hex[:6]}_{i}",
            "description": "x" * 40,
            "tags": ["a", "b"],
            "environments": {"staging": {"enabled": True, "rule": None}},
        }
        for i in range(14_500)
    ]
    raw = yaml.dump(_document(flags), Dumper=yaml.CSafeDumper).encode()
    assert len(raw) > 2_400_000 > IMPORT_MAX_BYTES
    # When it is imported
    started = time.perf_counter()
    answer = _call(
        stack,
        "flags",
        "POST",
        "/import",
        api_key,
        data=raw,
        headers={"Content-Type": "application/yaml"},
    )
    # Then it is refused at once, naming the limit, and none of its flags exists
    assert answer.status_code == 413, answer.text
    assert str(IMPORT_MAX_BYTES) in answer.json()["error"]
    assert time.perf_counter() - started < 5
    missing = _call(stack, "flags", "GET", f"/flags/{flags[0]['name']}", api_key)
    assert missing.status_code == 404


def test_import__yaml_just_under_the_limit__planned(stack: DevStack, api_key: str) -> None:
    # Given a YAML document just under the limit: a dry run plans it
    flags = [
        {"name": f"near_{i:05d}", "environments": {"staging": {"enabled": False}}}
        for i in range(9_000)
    ]
    raw = yaml.dump(_document(flags), Dumper=yaml.CSafeDumper).encode()
    assert IMPORT_MAX_BYTES / 2 < len(raw) < IMPORT_MAX_BYTES
    # When it is imported as a dry run
    started = time.perf_counter()
    answer = _call(
        stack,
        "flags",
        "POST",
        "/import?dry_run=true",
        api_key,
        data=raw,
        headers={"Content-Type": "application/yaml"},
    )
    # Then it is planned (parsed, validated, compared), in seconds even on a busy machine
    assert answer.status_code == 200, answer.text[:500]
    assert answer.json()["summary"]["created"] > 0
    assert time.perf_counter() - started < 10


def test_import__20_000_rules__422_naming_the_cap_nothing_applied(
    stack: DevStack, api_key: str
) -> None:
    # Given a flag's rule of 20 000 rules in an import document
    name = f"capped_{uuid.uuid4().hex[:8]}"
    rules = {"rules": [{"type": "PERCENTAGE", "value": 1}] * 20_000}
    document = _document(
        [{"name": name, "environments": {"staging": {"enabled": True, "rule": {"rules": rules}}}}]
    )
    assert len(json.dumps(document)) < IMPORT_MAX_BYTES
    # When it is imported
    answer = _call(stack, "flags", "POST", "/import", api_key, json=document)
    # Then it is refused naming the cap and the field, and the flag was not created
    _assert_cap(answer, "rules_per_document", limits.MAX_RULES)
    assert answer.json()["field"] == "$.flags[0].environments.staging.rule.rules.rules"
    assert _call(stack, "flags", "GET", f"/flags/{name}", api_key).status_code == 404


@pytest.mark.parametrize(
    ("rules", "limit", "maximum"),
    [
        (
            {"rules": [{"type": "PERCENTAGE", "value": 1}] * (limits.MAX_RULES + 1)},
            "rules_per_document",
            limits.MAX_RULES,
        ),
        (
            {
                "rules": [
                    {
                        "type": "USERS",
                        "users": [f"u{i}" for i in range(limits.MAX_USERS + 1)],
                        "serve": {"variant": "on"},
                    }
                ]
            },
            "users_per_rule",
            limits.MAX_USERS,
        ),
        (
            {
                "rules": [
                    {
                        "type": "CONDITIONS",
                        "conditions": {
                            "attribute": "country",
                            "op": "in",
                            "value": [f"C{i}" for i in range(limits.MAX_LIST_VALUES + 1)],
                        },
                        "serve": {"variant": "on"},
                    }
                ]
            },
            "values_per_list",
            limits.MAX_LIST_VALUES,
        ),
    ],
)
def test_rules__post_or_put_beyond_a_cap__422_naming_it_nothing_stored(
    stack: DevStack, api_key: str, rules: dict[str, Any], limit: str, maximum: int
) -> None:
    # Given a flag with a small rule in staging
    name = _flag(stack, api_key)
    small = {"type": "PERCENTAGE", "value": 5}
    made = _call(
        stack,
        "targeting",
        "POST",
        "/rules?environment=staging",
        api_key,
        json={"flag_name": name, "rules": small},
    )
    assert made.status_code == 201, made.text
    # When a rule beyond a cap is written, by POST in production and by PUT in staging
    posted = _call(
        stack, "targeting", "POST", "/rules", api_key, json={"flag_name": name, "rules": rules}
    )
    put = _call(
        stack,
        "targeting",
        "PUT",
        f"/rules/{name}?environment=staging",
        api_key,
        json={"rules": rules},
    )
    # Then both are refused naming the cap, and nothing changed
    _assert_cap(posted, limit, maximum)
    _assert_cap(put, limit, maximum)
    assert _call(stack, "targeting", "GET", f"/rules/{name}", api_key).status_code == 404
    kept = _call(stack, "targeting", "GET", f"/rules/{name}?environment=staging", api_key)
    assert kept.json()["rules"] == small


def test_segments__more_users_than_the_cap__422_naming_it_nothing_stored(
    stack: DevStack, api_key: str
) -> None:
    # Given a segment
    key = f"capped_{uuid.uuid4().hex[:8]}"
    assert _call(stack, "targeting", "POST", "/segments", api_key, json={"key": key}).ok
    too_many = [f"u{i}" for i in range(limits.MAX_SEGMENT_USERS + 1)]
    # When a segment with too many users is created, or this one replaced by it
    created = _call(
        stack,
        "targeting",
        "POST",
        "/segments",
        api_key,
        json={"key": f"{key}_new", "included": too_many},
    )
    replaced = _call(
        stack, "targeting", "PUT", f"/segments/{key}", api_key, json={"excluded": too_many}
    )
    # Then both are refused naming the cap, and nothing changed
    _assert_cap(created, "users_per_segment", limits.MAX_SEGMENT_USERS)
    _assert_cap(replaced, "users_per_segment", limits.MAX_SEGMENT_USERS)
    assert _call(stack, "targeting", "GET", f"/segments/{key}_new", api_key).status_code == 404
    assert _call(stack, "targeting", "GET", f"/segments/{key}", api_key).json()["excluded"] == []


def test_promote__stored_rule_beyond_the_caps__422_naming_it_target_unchanged(
    stack: DevStack, api_key: str
) -> None:
    # Given a staging rule of 300 rules, stored before the caps existed
    name = _flag(stack, api_key)
    made = _call(
        stack,
        "targeting",
        "POST",
        "/rules?environment=staging",
        api_key,
        json={"flag_name": name, "rules": {"type": "PERCENTAGE", "value": 5}},
    )
    assert made.status_code == 201, made.text
    old = {"rules": [{"type": "PERCENTAGE", "value": 1, "serve": {"variant": "on"}}] * 300}
    with psycopg.connect(stack.flags_database_url) as conn:
        conn.execute(
            "UPDATE targeting_rules SET rules = %s WHERE flag_name = %s AND environment = %s",
            (json.dumps(old), name, "staging"),
        )
    try:
        # When it is promoted to production
        answer = _call(
            stack,
            "flags",
            "POST",
            f"/flags/{name}/promote",
            api_key,
            json={"from": "staging", "to": "production"},
        )
        # Then it is refused naming the cap, and production has still no rule
        _assert_cap(answer, "rules_per_document", limits.MAX_RULES)
        assert _call(stack, "targeting", "GET", f"/rules/{name}", api_key).status_code == 404
    finally:  # the stack is shared: an over-cap rule would make every later import refused
        _call(stack, "flags", "DELETE", f"/flags/{name}", api_key)
