"""Key changes are announced before they commit: with Redis unreachable a revocation or
rotation is refused (503) and nothing changes, and a validation racing an announced
revocation cannot publish the key again. Real PostgreSQL and Redis; the auth function
is pointed at a closed port to lose Redis."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
import redis
from flask.testing import FlaskClient

from functions.core.adapters.db import transaction
from functions.core.errors import Unauthorized
from functions.core.keys.publishing import announce
from functions.core.models.keys import CreateKeyRequest
from functions.core.redis_keys import KEY_GRANT_PREFIX
from functions.core.services.keys import Actor, AuthService
from functions.core.stores import keys as key_store
from functions.devstack.processes import free_port

MASTER_KEY = "admin-secreto-123"
MASTER = {"Authorization": f"Bearer {MASTER_KEY}"}
ClientFactory = Callable[[str, dict[str, str]], FlaskClient]
DatabaseFactory = Callable[[str], str]


def _auth(function_client: ClientFactory, database_url: str, redis_url: str) -> FlaskClient:
    return function_client(
        "auth", {"DATABASE_URL": database_url, "MASTER_KEY": MASTER_KEY, "REDIS_URL": redis_url}
    )


def _closed_port() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"


def _grant_entry(key: str) -> str:
    return KEY_GRANT_PREFIX + hashlib.sha256(key.encode()).hexdigest()


def _shared_key(client: FlaskClient, shared: redis.Redis) -> dict[str, Any]:
    """A key auth validated, so that its grant is in Redis for every function."""
    response = client.post("/admin/keys", json={"name": "app", "scopes": ["read"]}, headers=MASTER)
    assert response.status_code == 201, response.get_data(as_text=True)
    created: dict[str, Any] = response.get_json()
    assert (
        client.get("/validate", headers={"Authorization": f"Bearer {created['key']}"}).status_code
        == 200
    )
    assert shared.get(_grant_entry(created["key"])) is not None
    return created


def test_revoke_key__redis_unreachable__503_nothing_changed_and_a_retry_revokes(
    function_client: ClientFactory, auth_db: str, redis_url: str
) -> None:
    # Given a key whose grant the other functions read from Redis
    shared = redis.Redis.from_url(redis_url)
    created = _shared_key(_auth(function_client, auth_db, redis_url), shared)
    # When auth, cut off from Redis, is asked to revoke it
    cut_off = _auth(function_client, auth_db, _closed_port())
    refused = cut_off.post(f"/admin/keys/{created['id']}/revoke", headers=MASTER)
    # Then it says so with a 503 naming Redis, and revoked nothing: the key is active,
    # as the grant still in Redis says, and no revocation is audited
    assert refused.status_code == 503
    body = refused.get_json()
    assert (body["code"], body["dependency"], body["key_ids"]) == (
        "unavailable",
        "redis",
        [created["id"]],
    )
    assert "retry" in body["error"]
    with psycopg.connect(auth_db) as conn:
        assert conn.execute("SELECT is_active, revoked_at FROM api_keys").fetchall() == [
            (True, None)
        ]
        assert conn.execute("SELECT action FROM api_key_audit").fetchall() == [("create",)]
    # And once Redis is reachable again, the retried revocation works and drops the grant
    back = _auth(function_client, auth_db, redis_url)
    assert back.post(f"/admin/keys/{created['id']}/revoke", headers=MASTER).status_code == 200
    assert shared.get(_grant_entry(created["key"])) is None
    assert (
        back.get("/validate", headers={"Authorization": f"Bearer {created['key']}"}).status_code
        == 401
    )


@pytest.mark.parametrize("body", [{}, {"grace_seconds": 60}])
def test_rotate_key__redis_unreachable__503_no_new_key_and_the_old_one_unchanged(
    function_client: ClientFactory, auth_db: str, redis_url: str, body: dict[str, Any]
) -> None:
    # Given a key whose grant (no expiry) the other functions read from Redis
    shared = redis.Redis.from_url(redis_url)
    created = _shared_key(_auth(function_client, auth_db, redis_url), shared)
    # When auth, cut off from Redis, is asked to rotate it, with or without grace
    cut_off = _auth(function_client, auth_db, _closed_port())
    refused = cut_off.post(f"/admin/keys/{created['id']}/rotate", json=body, headers=MASTER)
    # Then it answers 503, and the old key is as it was, with no successor
    assert refused.status_code == 503
    assert refused.get_json()["dependency"] == "redis"
    with psycopg.connect(auth_db) as conn:
        assert conn.execute("SELECT id, is_active, expires_at FROM api_keys").fetchall() == [
            (created["id"], True, None)
        ]


def test_validate__racing_an_announced_uncommitted_revocation__refused_and_no_grant_shared(
    auth_db: str, redis_url: str
) -> None:
    # Given a key, and a revocation announced in Redis but not committed yet
    service = AuthService(database_url=auth_db, master_key=MASTER_KEY, redis_url=redis_url)
    created = service.create_key(
        CreateKeyRequest.model_validate({"name": "app", "scopes": ["read"]}),
        actor=Actor.master(),
    )
    shared = redis.Redis.from_url(redis_url)
    workers = ThreadPoolExecutor(max_workers=1)
    try:
        with transaction(auth_db) as conn:
            revoked = key_store.revoke_key(conn, created.id)
            assert revoked is not None
            announce(shared, [revoked])
            # When a validation of that key runs meanwhile (after the version moved)
            racing = workers.submit(service.validate, created.key)
            time.sleep(0.3)
            waited = not racing.done()
        # Then it waited for the revocation, was refused, and published no grant
        assert waited
        with pytest.raises(Unauthorized):
            racing.result(timeout=5)
    finally:
        workers.shutdown(wait=True)
    assert shared.get(_grant_entry(created.key)) is None
