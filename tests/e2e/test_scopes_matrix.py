"""Every scope on every function, over real HTTP: a key holding the endpoint's scope gets
through, any other gets 403 naming the scope it lacks."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from functions.devstack.stack import DevStack

pytestmark = pytest.mark.e2e

SCOPES = ("admin", "write", "read", "evaluate")
FLAG = f"scoped_{uuid.uuid4().hex[:8]}"
MISSING = f"missing_{uuid.uuid4().hex[:8]}"
RULE = {"type": "PERCENTAGE", "value": 30}

# (function, method, path, body, scope the endpoint needs)
ENDPOINTS: list[tuple[str, str, str, Any, str]] = [
    ("auth", "GET", "/admin/keys", None, "admin"),
    ("auth", "POST", "/admin/keys", {"name": "made-by-matrix", "scopes": ["read"]}, "admin"),
    ("auth", "GET", "/admin/audit", None, "admin"),
    ("flags", "GET", "/flags", None, "read"),
    ("flags", "GET", f"/flags/{FLAG}", None, "read"),
    ("flags", "POST", "/flags", {"name": MISSING + "_new"}, "write"),
    ("flags", "PUT", f"/flags/{FLAG}", {"description": "scoped"}, "write"),
    ("flags", "DELETE", f"/flags/{MISSING}", None, "write"),
    ("targeting", "GET", f"/rules/{FLAG}", None, "read"),
    ("targeting", "POST", "/rules", {"flag_name": MISSING, "rules": RULE}, "write"),
    ("targeting", "PUT", f"/rules/{FLAG}", {"is_enabled": True}, "write"),
    ("targeting", "DELETE", f"/rules/{MISSING}", None, "write"),
    ("evaluation", "GET", f"/evaluate?user_id=u1&flag_name={FLAG}", None, "evaluate"),
]


def _create_key(stack: DevStack, scopes: list[str]) -> str:
    response = requests.post(
        f"{stack.url_of('auth')}/admin/keys",
        json={"name": f"matrix-{'-'.join(scopes)}", "scopes": scopes},
        headers={"Authorization": f"Bearer {stack.master_key}"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["key"])


@pytest.fixture(scope="module")
def keys_by_scope(stack: DevStack) -> dict[str, str]:
    """One key per scope, and a flag with a rule for them to act on."""
    writer = _create_key(stack, ["read", "write"])
    headers = {"Authorization": f"Bearer {writer}"}
    flag = requests.post(
        f"{stack.url_of('flags')}/flags",
        json={"name": FLAG, "is_enabled": True},
        headers=headers,
        timeout=10,
    )
    assert flag.status_code == 201, flag.text
    rule = requests.post(
        f"{stack.url_of('targeting')}/rules",
        json={"flag_name": FLAG, "rules": RULE},
        headers=headers,
        timeout=10,
    )
    assert rule.status_code == 201, rule.text
    return {scope: _create_key(stack, [scope]) for scope in SCOPES}


@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize(("function", "method", "path", "body", "needed"), ENDPOINTS)
def test_endpoint__key_with_one_scope__allowed_only_with_the_scope_it_needs(
    stack: DevStack,
    keys_by_scope: dict[str, str],
    scope: str,
    function: str,
    method: str,
    path: str,
    body: Any,
    needed: str,
) -> None:
    # Given a key holding only `scope`
    headers = {"Authorization": f"Bearer {keys_by_scope[scope]}"}
    # When it calls the endpoint
    response = requests.request(
        method, stack.url_of(function) + path, json=body, headers=headers, timeout=10
    )
    # Then it passes the scope check exactly when it holds the needed scope
    if scope == needed:
        assert response.status_code not in (401, 403), response.text
        assert response.status_code < 500, response.text
    else:
        assert response.status_code == 403, response.text
        assert response.json()["missing_scope"] == needed
        assert needed in response.json()["error"]
