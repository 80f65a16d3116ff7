"""A key bound to one environment changes flag states and rules there, and nothing every
environment shares: each way to change a shared field or object, tried over real HTTP
with a staging-bound key, is refused with 403 naming what is shared, and nothing
changes anywhere; the same request's per-environment part alone still works."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from functions.devstack.stack import DevStack

pytestmark = pytest.mark.e2e


def _call(
    stack: DevStack, function: str, method: str, path: str, key: str, **kwargs: Any
) -> requests.Response:
    return requests.request(
        method,
        stack.url_of(function) + path,
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
        **kwargs,
    )


@pytest.fixture(scope="module")
def staging_key(stack: DevStack) -> str:
    return stack.new_key("staging-app", environment="staging")


@pytest.fixture
def flag(stack: DevStack, api_key: str) -> str:
    """A string flag, described, tagged and owned, on in production."""
    name = f"shared_{uuid.uuid4().hex[:8]}"
    made = _call(
        stack,
        "flags",
        "POST",
        "/flags",
        api_key,
        json={
            "name": name,
            "description": "checkout v2",
            "is_enabled": True,
            "type": "string",
            "variants": {"blue": "b", "green": "g"},
            "off_variant": "blue",
            "default_variant": "green",
            "tags": ["checkout"],
            "owner": "payments",
        },
    )
    assert made.status_code == 201, made.text
    return name


def _everywhere(stack: DevStack, key: str, flag: str) -> dict[str, Any]:
    return {
        environment: _call(
            stack, "flags", "GET", f"/flags/{flag}?environment={environment}", key
        ).json()
        for environment in ("production", "staging")
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("description", "rewritten from staging"),
        ("tags", ["staging-only"]),
        ("owner", "someone else"),
        ("archived", True),
        ("variants", {"blue": "b", "green": "g", "red": "r"}),
        ("off_variant", "green"),
        ("default_variant", "blue"),
        ("type", "boolean"),
    ],
)
def test_put_flag__bound_key_changing_a_shared_field__403_naming_it_nothing_changed(
    stack: DevStack, api_key: str, staging_key: str, flag: str, field: str, value: Any
) -> None:
    # Given the flag as every environment shows it
    before = _everywhere(stack, api_key, flag)
    # When the staging-bound key changes a shared field (its state too, in the same request)
    answer = _call(
        stack,
        "flags",
        "PUT",
        f"/flags/{flag}",
        staging_key,
        json={field: value, "is_enabled": True},
    )
    # Then it is refused naming the field and saying an unbound key is needed
    assert answer.status_code == 403, answer.text
    body = answer.json()
    assert body["code"] == "forbidden"
    assert body["shared_fields"] == [field]
    assert field in body["error"] and "not bound to an environment" in body["error"]
    # And nothing changed, in production or in staging (the state was not applied either)
    assert _everywhere(stack, api_key, flag) == before


def test_put_flag__bound_key_state_alone_or_with_shared_fields_as_read__200_in_its_environment(
    stack: DevStack, api_key: str, staging_key: str, flag: str
) -> None:
    # Given the flag as the staging key reads it
    before = _everywhere(stack, api_key, flag)
    read = _call(stack, "flags", "GET", f"/flags/{flag}", staging_key).json()
    shared = {
        name: read[name]
        for name in ("description", "type", "variants", "off_variant", "default_variant")
    }
    shared |= {"tags": read["tags"], "owner": read["owner"], "archived": read["archived"]}
    # When it turns the flag on there, once alone and once sending back what it read
    alone = _call(stack, "flags", "PUT", f"/flags/{flag}", staging_key, json={"is_enabled": True})
    whole = _call(
        stack,
        "flags",
        "PUT",
        f"/flags/{flag}",
        staging_key,
        json={**shared, "is_enabled": False},
    )
    # Then both work, in staging only
    assert alone.status_code == 200, alone.text
    assert whole.status_code == 200, whole.text
    assert whole.json()["environment"] == "staging"
    after = _everywhere(stack, api_key, flag)
    assert after["production"]["is_enabled"] is True
    assert after["staging"]["is_enabled"] is False
    for name in (*shared, "name"):
        assert after["production"][name] == before["production"][name], name


@pytest.mark.parametrize(
    ("function", "method", "path", "body", "shared"),
    [
        ("flags", "DELETE", "/flags/{flag}", None, "delete a flag"),
        ("flags", "PUT", "/environments/staging", {"name": "Renamed"}, "rename environments"),
        ("flags", "POST", "/environments", {"key": "made_by_bound"}, "create environments"),
        ("flags", "DELETE", "/environments/staging", None, "delete environments"),
        ("targeting", "POST", "/segments", {"key": "{flag}_seg", "included": ["u"]}, "segments"),
        ("targeting", "PUT", "/segments/{flag}_kept", {"included": ["x"]}, "segments"),
        ("targeting", "DELETE", "/segments/{flag}_kept", None, "segments"),
        (
            "flags",
            "POST",
            "/flags/{flag}/promote",
            {"from": "staging", "to": "production"},
            "'production'",
        ),
    ],
)
def test_shared_object__bound_key__403_saying_why_nothing_changed(
    stack: DevStack,
    api_key: str,
    staging_key: str,
    flag: str,
    function: str,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    shared: str,
) -> None:
    # Given a segment, the environments and the flag as they are
    kept = _call(stack, "targeting", "POST", "/segments", api_key, json={"key": f"{flag}_kept"})
    assert kept.status_code == 201, kept.text

    def world() -> list[Any]:
        return [
            _everywhere(stack, api_key, flag),
            _call(stack, "flags", "GET", "/environments", api_key).json(),
            _call(stack, "targeting", "GET", "/segments", api_key).json(),
        ]

    before = world()
    # When the staging-bound key tries to change what every environment shares
    filled = path.format(flag=flag)
    sent = None if body is None else {k: _filled(v, flag) for k, v in body.items()}
    answer = _call(stack, function, method, filled, staging_key, json=sent)
    # Then it is refused, saying what is shared, and nothing changed
    assert answer.status_code == 403, answer.text
    assert shared in answer.json()["error"]
    assert world() == before


def test_import__bound_key_changing_description__403_naming_the_change(
    stack: DevStack, api_key: str, staging_key: str, flag: str
) -> None:
    # Given the staging export, as the bound key reads it
    document = _call(stack, "flags", "GET", "/export", staging_key).json()
    spec = next(item for item in document["flags"] if item["name"] == flag)
    before = _everywhere(stack, api_key, flag)
    # When it imports it with the description changed
    spec["description"] = "rewritten by import"
    answer = _call(stack, "flags", "POST", "/import", staging_key, json=document)
    # Then it is refused, naming the shared change, and nothing changed
    assert answer.status_code == 403, answer.text
    assert "not bound to an environment" in answer.json()["error"]
    assert any(item.get("flag") == flag for item in answer.json()["shared_changes"])
    assert _everywhere(stack, api_key, flag) == before


def _filled(value: Any, flag: str) -> Any:
    return value.format(flag=flag) if isinstance(value, str) else value
