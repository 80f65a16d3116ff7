"""Every bad request gets a 4xx JSON error, never a 500, and writes nothing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from functions.devstack.stack import DevStack

pytestmark = pytest.mark.e2e

LONG = "x" * 300
# (function, method, path, body (raw bytes or JSON), expected status)
CASES: list[tuple[str, str, str, Any, int]] = [
    ("auth", "POST", "/admin/keys", b"{broken", 400),
    ("auth", "POST", "/admin/keys", {"name": ["platform"]}, 422),
    ("auth", "POST", "/admin/keys", {"name": LONG}, 422),
    ("auth", "GET", "/admin/keys/nothing", None, 404),
    ("auth", "PATCH", "/validate", None, 405),
    ("flags", "POST", "/flags", b"{broken", 400),
    ("flags", "POST", "/flags", b"[]", 400),
    ("flags", "POST", "/flags", {}, 400),
    ("flags", "POST", "/flags", {"name": None}, 400),
    ("flags", "POST", "/flags", {"name": LONG}, 422),
    ("flags", "POST", "/flags", {"name": "has spaces"}, 422),
    ("flags", "POST", "/flags", {"name": "ok_name", "is_enabled": "true"}, 422),
    ("flags", "POST", "/flags", {"name": "ok_name", "description": 7}, 422),
    ("flags", "PUT", "/flags/missing_flag", {"is_enabled": True}, 404),
    ("flags", "PUT", "/flags/missing_flag", b"not json", 400),
    ("flags", "GET", f"/flags/{LONG}", None, 404),
    ("flags", "DELETE", "/flags/missing_flag", None, 404),
    ("targeting", "POST", "/rules", b"{broken", 400),
    ("targeting", "POST", "/rules", {"flag_name": "x"}, 400),
    ("targeting", "POST", "/rules", {"rules": {"type": "PERCENTAGE", "value": 30}}, 400),
    (
        "targeting",
        "POST",
        "/rules",
        {"flag_name": "missing_flag", "rules": {"type": "PERCENTAGE", "value": 30}},
        404,
    ),
    ("targeting", "POST", "/rules", {"flag_name": "missing_flag", "rules": "30%"}, 422),
    ("targeting", "PUT", "/rules/missing_flag", {"is_enabled": "no"}, 422),
    ("targeting", "GET", "/rules/missing_flag", None, 404),
    ("evaluation", "GET", "/evaluate", None, 400),
    ("evaluation", "GET", "/evaluate?user_id=u1", None, 400),
    ("evaluation", "GET", "/evaluate?flag_name=f", None, 400),
    ("evaluation", "GET", f"/evaluate?user_id={LONG}&flag_name=f", None, 422),
    ("evaluation", "POST", "/nowhere", None, 404),
    # The framework's own URL map refused these with an HTML page; the router answers now.
    ("flags", "GET", "/health%0A", None, 404),
    ("flags", "GET", "/flags/%0Aname", None, 404),
    ("auth", "GET", "/robots.txt", None, 404),
    ("evaluation", "GET", "/favicon.ico", None, 404),
    ("analytics", "POST", "/", b"{}", 400),
    ("analytics", "PUT", "/", None, 405),
    ("auth", "POST", "/admin/keys", {"name": "x", "scopes": ["root"]}, 422),
    ("auth", "POST", "/admin/keys", {"name": "x", "expires_at": "yesterday"}, 422),
    ("auth", "POST", "/admin/keys", {"name": "x", "environment": "Not Valid"}, 422),
    ("auth", "POST", "/admin/keys/999999999/revoke", None, 404),
    ("auth", "POST", "/admin/keys/1/rotate", {"grace_seconds": -5}, 422),
    ("auth", "GET", "/admin/audit?limit=abc", None, 422),
    ("flags", "POST", "/environments", {"key": "UPPER"}, 422),
    ("flags", "POST", "/environments", b"[]", 400),
    ("flags", "PUT", "/environments/nowhere", {"name": "x"}, 404),
    ("flags", "DELETE", "/environments/nowhere", None, 404),
    ("flags", "POST", "/flags/missing_flag/promote", {"from": "staging", "to": "production"}, 404),
    ("flags", "POST", "/flags/missing_flag/promote", {"from": "staging"}, 400),
    ("flags", "GET", "/export?environment=nowhere", None, 404),
    ("flags", "POST", "/import", b"", 400),
    ("flags", "POST", "/import", {"version": 1}, 422),
    ("flags", "POST", "/import?dry_run=maybe", {"version": 1}, 422),
    ("flags", "POST", "/flags", {"name": "typed", "type": "colour"}, 422),
    (
        "flags",
        "POST",
        "/flags",
        {
            "name": "typed",
            "type": "string",
            "variants": {"a": 1},
            "off_variant": "a",
            "default_variant": "a",
        },
        422,
    ),
    ("targeting", "POST", "/segments", {"key": "Bad Key"}, 422),
    ("targeting", "POST", "/segments", b"{", 400),
    ("targeting", "GET", "/segments/nowhere", None, 404),
    ("targeting", "DELETE", "/segments/nowhere", None, 404),
    ("evaluation", "POST", "/evaluate", {"flag_name": "f"}, 400),
    ("evaluation", "POST", "/evaluate", {"flag_name": "f", "context": []}, 422),
    ("evaluation", "POST", "/evaluate", b"{not json", 400),
    ("evaluation", "GET", "/evaluate?user_id=u&flag_name=f&environment=", None, 422),
]


def _send(
    stack: DevStack, key: str, function: str, method: str, path: str, body: Any
) -> requests.Response:
    headers = {"Authorization": f"Bearer {key}"}
    if isinstance(body, bytes):
        return requests.request(
            method,
            stack.url_of(function) + path,
            data=body,
            headers={**headers, "Content-Type": "application/json"},
            timeout=10,
        )
    return requests.request(
        method, stack.url_of(function) + path, json=body, headers=headers, timeout=10
    )


@pytest.mark.parametrize(("function", "method", "path", "body", "status"), CASES)
def test_bad_request__any_endpoint__4xx_json_error(
    stack: DevStack, api_key: str, function: str, method: str, path: str, body: Any, status: int
) -> None:
    # Given a valid key (the master key for auth) and a bad request
    key = stack.master_key if function == "auth" else api_key
    # When it is sent
    response = _send(stack, key, function, method, path, body)
    # Then it gets the expected 4xx with a JSON error saying why
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["error"]


@pytest.mark.parametrize(
    ("function", "method", "path"),
    [
        ("flags", "GET", "/flags"),
        ("flags", "POST", "/flags"),
        ("targeting", "GET", "/rules/x"),
        ("targeting", "POST", "/rules"),
        ("evaluation", "GET", "/evaluate?user_id=u&flag_name=f"),
    ],
)
@pytest.mark.parametrize("key", [None, "tm_key_" + "0" * 64, "garbage"])
def test_protected_endpoint__missing_or_unknown_key__401_json(
    stack: DevStack, function: str, method: str, path: str, key: str | None
) -> None:
    # Given / When a protected endpoint is called without a valid key
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    response = requests.request(
        method, stack.url_of(function) + path, json={"name": "x"}, headers=headers, timeout=10
    )
    # Then
    assert response.status_code == 401, response.text
    assert response.json()["error"]


def test_bad_rule__refused__nothing_stored(stack: DevStack, api_key: str) -> None:
    # Given a flag
    flag = f"bad_rule_{uuid.uuid4().hex[:8]}"
    headers = {"Authorization": f"Bearer {api_key}"}
    assert requests.post(
        f"{stack.url_of('flags')}/flags", json={"name": flag}, headers=headers, timeout=10
    ).ok
    # When a rule with an out-of-range percentage is posted
    response = requests.post(
        f"{stack.url_of('targeting')}/rules",
        headers=headers,
        timeout=10,
        json={"flag_name": flag, "rules": {"type": "PERCENTAGE", "value": 150}},
    )
    # Then it is refused naming the field, and no rule exists
    assert response.status_code == 422, response.text
    assert "rules" in response.json()["field"]
    assert (
        requests.get(
            f"{stack.url_of('targeting')}/rules/{flag}", headers=headers, timeout=10
        ).status_code
        == 404
    )
