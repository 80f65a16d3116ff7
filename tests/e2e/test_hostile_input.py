"""Input that once reached a 500, a stale answer or another environment, over real
HTTP: each now gets a clear 4xx, and nothing is written."""

from __future__ import annotations

import json
import socket
import time
import uuid
from typing import Any

import psycopg
import pytest
import requests

from functions.devstack.stack import DevStack

pytestmark = pytest.mark.e2e

DEEP = b'{"name": "deep", "description": ' + b"[" * 5000 + b"]" * 5000 + b"}"


def _send(
    stack: DevStack,
    key: str,
    function: str,
    method: str,
    path: str,
    body: bytes | None = None,
    content_type: str = "application/json",
) -> requests.Response:
    return requests.request(
        method,
        stack.url_of(function) + path,
        data=body,
        timeout=30,
        headers={"Authorization": f"Bearer {key}", "Content-Type": content_type},
    )


@pytest.mark.parametrize(
    ("function", "method", "path", "body", "content_type", "status"),
    [
        ("flags", "POST", "/flags", DEEP, "application/json", 400),
        (
            "flags",
            "POST",
            "/flags",
            b'{"name": "nul_desc", "description": "a\\u0000b"}',
            "application/json",
            400,
        ),
        (
            "flags",
            "POST",
            "/flags",
            b'{"name": "sur", "description": "\\ud800"}',
            "application/json",
            400,
        ),
        ("flags", "GET", "/flags/a%00b", None, "application/json", 400),
        ("flags", "GET", "/flags?tag=a%00", None, "application/json", 400),
        ("targeting", "GET", "/segments/a%00b", None, "application/json", 400),
        (
            "evaluation",
            "GET",
            "/evaluate?user_id=u&flag_name=f&environment=production%23x",
            None,
            "application/json",
            422,  # not an environment name: a wrong value
        ),
        (
            "evaluation",
            "POST",
            "/evaluate",
            b'{"flag_name": "f", "context": {"user_id": "\\ud800"}}',
            "application/json",
            400,
        ),
        (
            "flags",
            "POST",
            "/import?dry_run=true",
            b"a0: &a0 [1, 1, 1]\na1: &a1 [*a0, *a0, *a0]\nversion: 1",
            "application/yaml",
            400,
        ),
    ],
)
def test_hostile_request__any_function__4xx_json(
    stack: DevStack,
    api_key: str,
    function: str,
    method: str,
    path: str,
    body: bytes | None,
    content_type: str,
    status: int,
) -> None:
    # Given / When
    response = _send(stack, api_key, function, method, path, body, content_type)
    # Then
    assert response.status_code == status, response.text
    assert response.json()["error"]


def test_admin_keys__nul_in_name__400_and_no_key(stack: DevStack) -> None:
    # Given / When
    response = _send(
        stack, stack.master_key, "auth", "POST", "/admin/keys", b'{"name": "a\\u0000b"}'
    )
    # Then
    assert response.status_code == 400, response.text


def test_import__bound_key_changing_shared_definition_or_segment__403_nothing_applied(
    stack: DevStack, api_key: str
) -> None:
    # Given a flag on in production and a staging-bound key
    flag = f"shared_{uuid.uuid4().hex[:6]}"
    flags = stack.url_of("flags")
    headers = {"Authorization": f"Bearer {api_key}"}
    assert (
        requests.post(
            f"{flags}/flags", headers=headers, timeout=10, json={"name": flag, "is_enabled": True}
        ).status_code
        == 201
    )
    bound = requests.post(
        f"{stack.url_of('auth')}/admin/keys",
        timeout=10,
        headers={"Authorization": f"Bearer {stack.master_key}"},
        json={"name": "staging-app", "environment": "staging"},
    ).json()["key"]
    exported: dict[str, Any] = requests.get(
        f"{flags}/export", headers={"Authorization": f"Bearer {bound}"}, timeout=10
    ).json()
    spec = next(f for f in exported["flags"] if f["name"] == flag)
    # When the bound key imports its environment's document with the flag archived
    spec["archived"] = True
    archived = requests.post(
        f"{flags}/import", json=exported, timeout=30, headers={"Authorization": f"Bearer {bound}"}
    )
    # And with a new segment
    spec["archived"] = False
    exported["segments"] = [*(exported.get("segments") or []), {"key": f"evil-{flag}"}]
    segment = requests.post(
        f"{flags}/import", json=exported, timeout=30, headers={"Authorization": f"Bearer {bound}"}
    )
    # Then both are refused, and production still decides as before
    assert archived.status_code == 403, archived.text
    assert segment.status_code == 403, segment.text
    answer = requests.get(
        f"{stack.url_of('evaluation')}/evaluate",
        headers=headers,
        timeout=10,
        params={"user_id": "u1", "flag_name": flag},
    ).json()
    assert answer["result"] is True
    assert (
        requests.get(
            f"{stack.url_of('targeting')}/segments/evil-{flag}", headers=headers, timeout=10
        ).status_code
        == 404
    )


def test_evaluate__flag_name_the_old_schema_allowed__decided(stack: DevStack, api_key: str) -> None:
    # Given a flag stored before names were restricted (as a migrated database has them)
    name = f"New Checkout:v2 {uuid.uuid4().hex[:4]}"
    with psycopg.connect(stack.flags_database_url) as conn:
        flag_id = conn.execute(
            "INSERT INTO flags (name) VALUES (%s) RETURNING id", (name,)
        ).fetchone()
        assert flag_id is not None
        conn.execute(
            "INSERT INTO flag_states (flag_id, environment, is_enabled)"
            " VALUES (%s, 'production', TRUE)",
            (flag_id[0],),
        )
    # When it is evaluated, once evaluation's version check has seen the write (a write
    # made behind the functions' back sends no notice)
    deadline = time.monotonic() + 3
    while True:
        answer = requests.get(
            f"{stack.url_of('evaluation')}/evaluate",
            timeout=10,
            headers={"Authorization": f"Bearer {api_key}"},
            params={"user_id": "u1", "flag_name": name},
        ).json()
        if answer["reason"] != "FLAG_NOT_FOUND" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    # Then it answers as the flag says, not FLAG_NOT_FOUND
    assert answer["result"] is True, answer
    assert answer["reason"] == "DEFAULT"


@pytest.mark.parametrize("function", ["auth", "flags", "targeting", "evaluation", "analytics"])
@pytest.mark.parametrize(
    "target",
    ["health", "//health", "evil.example.com:443"],
    ids=["relative", "double", "authority"],
)
def test_request_target_without_leading_slash__json_never_a_redirect_to_the_host(
    stack: DevStack, function: str, target: str
) -> None:
    # Given a request line whose target does not start with one slash, and a Host header
    # naming somebody else's site
    request = f"GET {target} HTTP/1.1\r\nHost: evil.example.com\r\nConnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", stack.ports.of_function(function)), 10) as sock:
        sock.sendall(request.encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    # Then the function answers it as the path with one leading slash, in JSON, and sends
    # nobody anywhere
    status = int(head.split()[1])
    assert status in (200, 404), answer[:300]
    assert b"location:" not in head.lower()
    assert json.loads(body)


def test_query_parameter_given_twice__422_and_tag_may_repeat(stack: DevStack, api_key: str) -> None:
    # Given / When a list of flags asked for two environments at once, and for two tags
    twice = _send(
        stack, api_key, "flags", "GET", "/flags?environment=production&environment=staging"
    )
    tags = _send(stack, api_key, "flags", "GET", "/flags?tag=a&tag=b")
    # Then the first is refused, naming the parameter, rather than one of them picked; tags
    # are a list
    assert twice.status_code == 422, twice.text
    assert twice.json()["parameter"] == "environment"
    assert tags.status_code == 200, tags.text


def test_evaluate__user_or_attribute_given_twice__422(stack: DevStack, api_key: str) -> None:
    # Given / When an evaluation names two users, or one attribute twice
    users = _send(stack, api_key, "evaluation", "GET", "/evaluate?user_id=a&user_id=b&flag_name=x")
    countries = _send(
        stack, api_key, "evaluation", "GET", "/evaluate?user_id=a&flag_name=x&country=PT&country=ES"
    )
    # Then each is refused, naming the parameter, rather than decided for one of them
    assert (users.status_code, users.json()["parameter"]) == (422, "user_id")
    assert (countries.status_code, countries.json()["parameter"]) == (422, "country")
