"""No lost updates: a flag, rule or segment read answers its `ETag`; a write sending it in
`If-Match` is made only if nobody changed the resource since. Two editors read, both
write: the second gets 412 and nothing of its write is stored. A write without
`If-Match` behaves as it always has."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from functions.devstack.stack import DevStack

pytestmark = pytest.mark.e2e


def _call(
    stack: DevStack,
    function: str,
    method: str,
    path: str,
    key: str,
    *,
    if_match: str | None = None,
    **kwargs: Any,
) -> requests.Response:
    headers = {"Authorization": f"Bearer {key}"}
    if if_match is not None:
        headers["If-Match"] = if_match
    return requests.request(
        method, stack.url_of(function) + path, headers=headers, timeout=10, **kwargs
    )


@dataclass(frozen=True)
class Resource:
    """Where one kind of resource is read and written, and two different edits of it."""

    function: str
    path: str
    first: dict[str, Any]
    second: dict[str, Any]


def _flag(stack: DevStack, key: str) -> str:
    name = f"etag_{uuid.uuid4().hex[:8]}"
    made = _call(stack, "flags", "POST", "/flags", key, json={"name": name})
    assert made.status_code == 201, made.text
    return name


def _flag_resource(stack: DevStack, key: str) -> Resource:
    name = _flag(stack, key)
    return Resource(
        "flags",
        f"/flags/{name}?environment=staging",
        {"is_enabled": True},
        {"description": "the second editor's"},
    )


def _rule_resource(stack: DevStack, key: str) -> Resource:
    name = _flag(stack, key)
    made = _call(
        stack,
        "targeting",
        "POST",
        "/rules?environment=staging",
        key,
        json={"flag_name": name, "rules": {"type": "PERCENTAGE", "value": 10}},
    )
    assert made.status_code == 201, made.text
    return Resource(
        "targeting",
        f"/rules/{name}?environment=staging",
        {"rules": {"type": "PERCENTAGE", "value": 50}},
        {"is_enabled": False},
    )


def _segment_resource(stack: DevStack, key: str) -> Resource:
    name = f"etag_{uuid.uuid4().hex[:8]}"
    made = _call(stack, "targeting", "POST", "/segments", key, json={"key": name})
    assert made.status_code == 201, made.text
    return Resource(
        "targeting", f"/segments/{name}", {"included": ["ana"]}, {"included": ["bruno"]}
    )


KINDS: dict[str, Callable[[DevStack, str], Resource]] = {
    "flag": _flag_resource,
    "rule": _rule_resource,
    "segment": _segment_resource,
}


@pytest.mark.parametrize("kind", KINDS)
def test_put__second_editor_with_stale_if_match__412_and_nothing_of_it_stored(
    stack: DevStack, api_key: str, kind: str
) -> None:
    # Given two editors who read the same version
    resource = KINDS[kind](stack, api_key)
    read_by_ana = _call(stack, resource.function, "GET", resource.path, api_key)
    read_by_bruno = _call(stack, resource.function, "GET", resource.path, api_key)
    tag = read_by_ana.headers["ETag"]
    assert tag.startswith('"') and read_by_bruno.headers["ETag"] == tag
    # When the first writes with her If-Match
    first = _call(
        stack, resource.function, "PUT", resource.path, api_key, if_match=tag, json=resource.first
    )
    # Then it is made, and the answer carries the new version
    assert first.status_code == 200, first.text
    assert first.headers["ETag"] != tag
    stored = _call(stack, resource.function, "GET", resource.path, api_key)
    assert stored.headers["ETag"] == first.headers["ETag"]
    # When the second writes with his, now stale
    second = _call(
        stack, resource.function, "PUT", resource.path, api_key, if_match=tag, json=resource.second
    )
    # Then it is refused with a JSON error saying what happened and what to do
    assert second.status_code == 412, second.text
    body = second.json()
    assert body["code"] == "precondition_failed"
    assert "changed since it was read" in body["error"] and "Read it again" in body["error"]
    # And nothing of it was stored: the resource is exactly as the first editor left it
    after = _call(stack, resource.function, "GET", resource.path, api_key)
    assert after.json() == stored.json()
    assert after.headers["ETag"] == stored.headers["ETag"]


@pytest.mark.parametrize("kind", KINDS)
def test_delete__stale_if_match__412_and_still_there(
    stack: DevStack, api_key: str, kind: str
) -> None:
    # Given a version read, then a change by someone else
    resource = KINDS[kind](stack, api_key)
    tag = _call(stack, resource.function, "GET", resource.path, api_key).headers["ETag"]
    changed = _call(stack, resource.function, "PUT", resource.path, api_key, json=resource.first)
    assert changed.status_code == 200, changed.text
    # When the reader deletes with the version it read
    stale = _call(stack, resource.function, "DELETE", resource.path, api_key, if_match=tag)
    # Then it is refused and the resource is still there; with the current version it goes
    assert stale.status_code == 412, stale.text
    assert _call(stack, resource.function, "GET", resource.path, api_key).status_code == 200
    current = changed.headers["ETag"]
    deleted = _call(stack, resource.function, "DELETE", resource.path, api_key, if_match=current)
    assert deleted.status_code == 204, deleted.text


@pytest.mark.parametrize("kind", KINDS)
def test_put__without_if_match_or_with_star__made_as_before(
    stack: DevStack, api_key: str, kind: str
) -> None:
    # Given a resource changed since a script last read it
    resource = KINDS[kind](stack, api_key)
    # When old scripts write without If-Match, or with If-Match: *
    plain = _call(stack, resource.function, "PUT", resource.path, api_key, json=resource.first)
    star = _call(
        stack, resource.function, "PUT", resource.path, api_key, if_match="*", json=resource.second
    )
    # Then both writes are made
    assert plain.status_code == 200, plain.text
    assert star.status_code == 200, star.text


def test_flag_etag__same_flag__stable_while_unchanged_and_per_environment(
    stack: DevStack, api_key: str
) -> None:
    # Given a flag on in staging only
    name = _flag(stack, api_key)
    on = _call(
        stack,
        "flags",
        "PUT",
        f"/flags/{name}?environment=staging",
        api_key,
        json={"is_enabled": True},
    )
    assert on.status_code == 200

    def tag(environment: str) -> str:
        read = _call(stack, "flags", "GET", f"/flags/{name}?environment={environment}", api_key)
        return read.headers["ETag"]

    # When it is read twice in each environment
    # Then the tag repeats while nothing changes, and differs where the answer does
    assert tag("staging") == tag("staging")
    assert tag("production") == tag("production")
    assert tag("staging") != tag("production")


def test_if_match__empty_header__422_naming_it(stack: DevStack, api_key: str) -> None:
    # Given a flag
    name = _flag(stack, api_key)
    # When a write sends an If-Match naming nothing
    answer = _call(
        stack, "flags", "PUT", f"/flags/{name}", api_key, if_match=",", json={"is_enabled": True}
    )
    # Then it is refused as a wrong value, and the flag is unchanged
    assert answer.status_code == 422, answer.text
    assert answer.json()["parameter"] == "If-Match"
    assert _call(stack, "flags", "GET", f"/flags/{name}", api_key).json()["is_enabled"] is False
