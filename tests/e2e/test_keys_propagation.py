"""Keys across the running functions: no call to auth ever, revocation seen by other
functions within a second (also when it was made without Redis), expiry and rotation
grace honoured from the keys they hold, the bootstrap service key, and last use
recorded in batches."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient

from functions.core.snapshot.key_keeper import REVOCATION_BOUND_SECONDS
from functions.devstack.processes import free_port
from functions.devstack.stack import DevStack

pytestmark = pytest.mark.e2e


def _call(method: str, url: str, key: str, **kwargs: Any) -> requests.Response:
    return requests.request(
        method, url, headers={"Authorization": f"Bearer {key}"}, timeout=10, **kwargs
    )


def _admin(stack: DevStack, method: str, path: str, **kwargs: Any) -> requests.Response:
    return _call(method, f"{stack.url_of('auth')}{path}", stack.master_key, **kwargs)


def _create_key(stack: DevStack, **body: Any) -> dict[str, Any]:
    response = _admin(stack, "POST", "/admin/keys", json={"name": "e2e", **body})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _validations(stack: DevStack) -> int:
    """How many `/validate` requests auth has answered (one worker in the stack)."""
    count: int = _admin(stack, "GET", "/admin/stats").json()["validations"]
    return count


def _warm(url: str, key: str) -> None:
    """The key in use on a function."""
    assert _call("GET", url, key).status_code == 200


def _refused_after(url: str, key: str, since: float, limit: float = 5.0) -> float:
    while _call("GET", url, key).status_code != 401:
        assert time.monotonic() - since < limit, f"{url} still accepts the key"
        time.sleep(0.005)
    return time.monotonic() - since


def test_protected_get_flag__new_key__no_request_to_auth(stack: DevStack) -> None:
    # Given a new key, never used, and auth's count of validations
    key = _create_key(stack, scopes=["read", "write"])["key"]
    flag = f"warm_{uuid.uuid4().hex[:8]}"
    url = f"{stack.url_of('flags')}/flags/{flag}"
    before = _validations(stack)
    # When it creates a flag at once and reads it 50 times over three seconds
    assert _call("POST", f"{stack.url_of('flags')}/flags", key, json={"name": flag}).ok
    for _ in range(50):
        assert _call("GET", url, key).status_code == 200
        time.sleep(0.06)
    # Then auth answered no validation: flags holds the keys itself
    assert _validations(stack) == before


def test_revoke__key_cached_by_two_functions__refused_by_both_within_a_second(
    stack: DevStack,
) -> None:
    # Given a key in use on flags and targeting, served from their caches
    created = _create_key(stack, scopes=["read"])
    key = created["key"]
    urls = [f"{stack.url_of('flags')}/flags", f"{stack.url_of('targeting')}/rules/nothing_here"]
    _warm(urls[0], key)
    assert _call("GET", urls[1], key).status_code == 404
    # When auth revokes it
    started = time.monotonic()
    assert _admin(stack, "POST", f"/admin/keys/{created['id']}/revoke").status_code == 200
    # Then both functions refuse it within a second of the revocation
    delays = [_refused_after(url, key, started) for url in urls]
    print(f"revocation seen after {', '.join(f'{d * 1000:.1f} ms' for d in delays)}")
    assert max(delays) < 1.0


def test_revoke__auth_cannot_reach_redis__200_and_flags_refuses_within_the_bound(
    stack: DevStack, function_client: Callable[[str, dict[str, str]], FlaskClient]
) -> None:
    # Given a key in use on the flags function, and an auth process on the same keys
    # table whose Redis is a closed port (it can send no notice)
    created = _create_key(stack, scopes=["read"])
    key = created["key"]
    url = f"{stack.url_of('flags')}/flags"
    _warm(url, key)
    cut_off = function_client(
        "auth",
        {
            "DATABASE_URL": stack.auth_database_url,
            "MASTER_KEY": stack.master_key,
            "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        },
    )
    # When that auth revokes the key
    started = time.monotonic()
    revoked = cut_off.post(
        f"/admin/keys/{created['id']}/revoke",
        headers={"Authorization": f"Bearer {stack.master_key}"},
    )
    # Then the revocation is made, and flags refuses the key within the bound: its
    # version check in PostgreSQL needs no notice
    assert revoked.status_code == 200, revoked.get_data(as_text=True)
    assert revoked.get_json()["revoked_at"] is not None
    assert _refused_after(url, key, started) < REVOCATION_BOUND_SECONDS


def test_expiry__key_cached_by_flags__refused_once_expired(stack: DevStack) -> None:
    # Given a key that expires in two seconds, served from the flags function's cache
    expires = datetime.now(UTC) + timedelta(seconds=2)
    key = _create_key(stack, scopes=["read"], expires_at=expires.isoformat())["key"]
    url = f"{stack.url_of('flags')}/flags"
    _warm(url, key)
    # When it expires / Then flags refuses it at once, with no notice from auth
    remaining = (expires - datetime.now(UTC)).total_seconds()
    assert remaining > 0
    time.sleep(remaining)
    assert _refused_after(url, key, time.monotonic(), limit=0.5) < 0.5


def test_rotate__grace_period__old_key_works_on_flags_until_it_ends(stack: DevStack) -> None:
    # Given a key in use on the flags function
    old = _create_key(stack, scopes=["read"])
    url = f"{stack.url_of('flags')}/flags"
    _warm(url, old["key"])
    # When it is rotated with a 2-second grace period
    rotated = _admin(stack, "POST", f"/admin/keys/{old['id']}/rotate", json={"grace_seconds": 2})
    assert rotated.status_code == 201, rotated.text
    new = rotated.json()
    # Then both keys work during the grace period, and the old one is refused after it
    assert _call("GET", url, old["key"]).status_code == 200
    assert _call("GET", url, new["key"]).status_code == 200
    ends = datetime.fromisoformat(new["previous_key_expires_at"])
    time.sleep(max(0.0, (ends - datetime.now(UTC)).total_seconds()))
    assert _refused_after(url, old["key"], time.monotonic(), limit=0.5) < 0.5
    assert _call("GET", url, new["key"]).status_code == 200


def test_service_key__provisioned_by_bootstrap__read_scope_only(stack: DevStack) -> None:
    # Given the key bootstrap made for evaluation
    listed = _admin(stack, "GET", "/admin/keys").json()
    service = [k for k in listed if k["name"] == "evaluation-service" and k["active"]]
    flags = stack.url_of("flags")
    # When / Then: it exists once, may read flags and nothing else
    assert [k["scopes"] for k in service] == [["read"]]
    assert service[0]["prefix"] == stack.service_key[:12]
    assert _call("GET", f"{flags}/flags", stack.service_key).status_code == 200
    assert _call("POST", f"{flags}/flags", stack.service_key, json={"name": "x"}).status_code == 403
    evaluate = f"{stack.url_of('evaluation')}/evaluate?user_id=u&flag_name=f"
    assert _call("GET", evaluate, stack.service_key).status_code == 403


def test_last_used_at__key_used_on_flags__listed_after_the_batch(stack: DevStack) -> None:
    # Given a key never used
    created = _create_key(stack, scopes=["read"])
    shown = _admin(stack, "GET", f"/admin/keys/{created['id']}").json()
    assert shown["last_used_at"] is None
    # When it is used on the flags function and a usage batch has gone out
    assert _call("GET", f"{stack.url_of('flags')}/flags", created["key"]).status_code == 200
    deadline = time.monotonic() + 10
    while shown["last_used_at"] is None and time.monotonic() < deadline:
        time.sleep(0.5)
        shown = _admin(stack, "GET", f"/admin/keys/{created['id']}").json()
    # Then auth lists when it was last used
    assert shown["last_used_at"] is not None
    assert datetime.now(UTC) - datetime.fromisoformat(shown["last_used_at"]) < timedelta(seconds=30)


def test_audit__lifecycle_over_http__who_and_when_recorded(stack: DevStack) -> None:
    # Given a key created, rotated and its successor revoked with the master key
    old = _create_key(stack, scopes=["evaluate"])
    new = _admin(stack, "POST", f"/admin/keys/{old['id']}/rotate").json()
    _admin(stack, "POST", f"/admin/keys/{new['id']}/revoke")
    # When the audit is read
    entries = _admin(stack, "GET", "/admin/audit?limit=3").json()
    # Then the three actions are there, newest first, each by the master key
    assert [(e["action"], e["key_id"], e["actor"]) for e in entries] == [
        ("revoke", new["id"], "master"),
        ("rotate", old["id"], "master"),
        ("create", old["id"], "master"),
    ]
    assert all(datetime.fromisoformat(e["at"]) <= datetime.now(UTC) for e in entries)
