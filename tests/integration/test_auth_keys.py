"""Key lifecycle on the auth function: scopes, list/show, revoke, rotate, expiry, audit,
environment binding; against a freshly migrated PostgreSQL and a real Redis."""

from __future__ import annotations

import hashlib
import logging
import secrets
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from flask.testing import FlaskClient

from functions.core.adapters.migrations import migrate, sql_dir
from functions.core.redis_keys import KEY_USAGE

MASTER_KEY = secrets.token_urlsafe(32)
ClientFactory = Callable[[str, dict[str, str]], FlaskClient]
DatabaseFactory = Callable[[str], str]
MASTER = {"Authorization": f"Bearer {MASTER_KEY}"}


@pytest.fixture
def shared_redis(redis_url: str) -> redis.Redis:
    client = redis.Redis.from_url(redis_url)
    client.delete(KEY_USAGE)
    return client


@pytest.fixture
def client(
    function_client: ClientFactory, auth_db: str, redis_url: str, shared_redis: redis.Redis
) -> FlaskClient:
    return function_client(
        "auth", {"DATABASE_URL": auth_db, "MASTER_KEY": MASTER_KEY, "REDIS_URL": redis_url}
    )


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _create(client: FlaskClient, auth: dict[str, str] = MASTER, **body: Any) -> dict[str, Any]:
    response = client.post("/admin/keys", json={"name": "platform", **body}, headers=auth)
    assert response.status_code == 201, response.get_data(as_text=True)
    created: dict[str, Any] = response.get_json()
    return created


def _valid(client: FlaskClient, key: str) -> bool:
    status = client.get("/validate", headers=_bearer(key)).status_code
    assert status in (200, 401)
    return status == 200


def test_create_key__seed_body__seed_scopes_and_the_new_fields(client: FlaskClient) -> None:
    # Given / When a key is created with the seed's body only
    body = _create(client)
    # Then the seed's fields are there, with the scopes every old key had
    assert body["name"] == "platform"
    assert body["key"].startswith("tm_key_")
    assert body["message"]
    assert body["scopes"] == ["evaluate", "read", "write"]
    assert body["prefix"] == body["key"][:12]
    assert body["environment"] is None
    assert body["expires_at"] is None


def test_create_key__scopes_environment_expiry__validate_returns_them(client: FlaskClient) -> None:
    # Given a key bound to staging, with two scopes and an expiry
    expires = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    created = _create(
        client, scopes=["read", "evaluate"], environment="staging", expires_at=expires
    )
    # When it is validated
    response = client.get("/validate", headers=_bearer(created["key"]))
    # Then the seed's message comes back with who it is and what it may do
    body = response.get_json()
    assert response.status_code == 200
    assert body["message"]
    assert body["id"] == created["id"]
    assert body["name"] == "platform"
    assert body["scopes"] == ["evaluate", "read"]
    assert body["environment"] == "staging"
    assert datetime.fromisoformat(body["expires_at"]) == datetime.fromisoformat(expires)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"scopes": []}, "scopes"),
        ({"scopes": ["root"]}, "scopes"),
        ({"scopes": ["read", "read"]}, "scopes"),
        ({"scopes": "read"}, "scopes"),
        ({"environment": "Prod"}, "environment"),
        ({"environment": "-x"}, "environment"),
        ({"environment": "x" * 65}, "environment"),
        ({"expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"expires_at": "2999-01-01T00:00:00"}, "expires_at"),
        ({"expires_at": "tomorrow"}, "expires_at"),
        ({"scopes": ["admin"], "environment": "staging"}, "environment"),
    ],
)
def test_create_key__bad_scopes_environment_or_expiry__422_naming_the_field(
    client: FlaskClient, auth_db: str, body: dict[str, Any], field: str
) -> None:
    # Given / When a key is requested with a bad field
    response = client.post("/admin/keys", json={"name": "x", **body}, headers=MASTER)
    # Then it is refused naming the field, and nothing is stored
    assert response.status_code == 422, response.get_data(as_text=True)
    assert field in response.get_data(as_text=True)
    with psycopg.connect(auth_db) as conn:
        assert conn.execute("SELECT count(*) FROM api_keys").fetchone() == (0,)


def test_admin_endpoints__admin_key__manages_keys_and_is_named_in_the_audit(
    client: FlaskClient,
) -> None:
    # Given an admin key made with the master key
    admin = _create(client, name="ops", scopes=["admin"])
    # When it creates, lists, shows and revokes a key
    made = _create(client, auth=_bearer(admin["key"]), scopes=["read"])
    listed = client.get("/admin/keys", headers=_bearer(admin["key"]))
    shown = client.get(f"/admin/keys/{made['id']}", headers=_bearer(admin["key"]))
    revoked = client.post(f"/admin/keys/{made['id']}/revoke", headers=_bearer(admin["key"]))
    # Then each works, and the audit names the admin key as the actor
    assert listed.status_code == shown.status_code == revoked.status_code == 200
    audit = client.get("/admin/audit", headers=_bearer(admin["key"])).get_json()
    assert [(e["action"], e["key_id"], e["actor"], e["actor_key_id"]) for e in audit] == [
        ("revoke", made["id"], "key", admin["id"]),
        ("create", made["id"], "key", admin["id"]),
        ("create", admin["id"], "master", None),
    ]


@pytest.mark.parametrize(
    "scopes", [["read"], ["write"], ["evaluate"], ["read", "write", "evaluate"]]
)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/admin/keys"),
        ("GET", "/admin/keys"),
        ("GET", "/admin/keys/1"),
        ("POST", "/admin/keys/1/revoke"),
        ("POST", "/admin/keys/1/rotate"),
        ("GET", "/admin/audit"),
        ("GET", "/admin/stats"),
    ],
)
def test_admin_endpoints__key_without_admin_scope__403_naming_admin(
    client: FlaskClient, scopes: list[str], method: str, path: str
) -> None:
    # Given a valid key without the admin scope
    key = _create(client, scopes=scopes)["key"]
    # When it calls an admin endpoint
    response = client.open(path, method=method, json={"name": "x"}, headers=_bearer(key))
    # Then it is refused, naming the scope it lacks
    assert response.status_code == 403
    assert response.get_json()["missing_scope"] == "admin"
    assert "admin" in response.get_json()["error"]


def test_list_and_show__any_key__never_the_key_nor_its_hash(client: FlaskClient) -> None:
    # Given two keys
    first = _create(client, scopes=["read"])
    second = _create(client, name="app", scopes=["evaluate"], environment="staging")
    # When they are listed and shown
    listed = client.get("/admin/keys", headers=MASTER)
    shown = client.get(f"/admin/keys/{second['id']}", headers=MASTER)
    # Then the description is there, and neither a key nor a hash (nor part of one)
    for text in (listed.get_data(as_text=True), shown.get_data(as_text=True)):
        for created in (first, second):
            secret = created["key"]
            assert secret not in text
            assert secret[12:24] not in text
            assert hashlib.sha256(secret.encode()).hexdigest()[:16] not in text
        assert "hash" not in text
    assert [k["id"] for k in listed.get_json()] == [first["id"], second["id"]]
    assert shown.get_json() == {
        "id": second["id"],
        "name": "app",
        "prefix": second["key"][:12],
        "scopes": ["evaluate"],
        "environment": "staging",
        "created_at": shown.get_json()["created_at"],
        "last_used_at": None,
        "expires_at": None,
        "revoked_at": None,
        "active": True,
    }


def test_show_key__unknown_id__404(client: FlaskClient) -> None:
    # Given / When / Then
    assert client.get("/admin/keys/999999", headers=MASTER).status_code == 404
    assert client.post("/admin/keys/999999/revoke", headers=MASTER).status_code == 404
    assert client.post("/admin/keys/999999/rotate", headers=MASTER).status_code == 404


def test_revoke_key__active_key__401_soft_kept_and_audited_once(
    client: FlaskClient, auth_db: str
) -> None:
    # Given a working key
    created = _create(client)
    assert _valid(client, created["key"])
    # When it is revoked twice
    first = client.post(f"/admin/keys/{created['id']}/revoke", headers=MASTER)
    second = client.post(f"/admin/keys/{created['id']}/revoke", headers=MASTER)
    # Then it no longer validates, the row is kept inactive, and one revocation is audited
    assert first.status_code == second.status_code == 200
    assert first.get_json()["active"] is False
    assert first.get_json()["revoked_at"]
    assert not _valid(client, created["key"])
    with psycopg.connect(auth_db) as conn:
        assert conn.execute("SELECT is_active FROM api_keys").fetchall() == [(False,)]
    actions = [e["action"] for e in client.get("/admin/audit", headers=MASTER).get_json()]
    assert actions == ["revoke", "create"]


def test_expiry__key_past_its_expiry__401_and_listed_inactive(client: FlaskClient) -> None:
    # Given a key that expires in one second
    expires = datetime.now(UTC) + timedelta(seconds=1)
    created = _create(client, expires_at=expires.isoformat())
    assert _valid(client, created["key"])
    # When the second has passed
    time.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 0.1)
    # Then it no longer validates and is listed inactive
    assert not _valid(client, created["key"])
    assert client.get(f"/admin/keys/{created['id']}", headers=MASTER).get_json()["active"] is False


def test_rotate_key__no_grace__old_key_refused_at_once_new_key_same_grants(
    client: FlaskClient,
) -> None:
    # Given a key bound to staging with two scopes
    old = _create(client, scopes=["read", "write"], environment="staging")
    # When it is rotated without a grace period
    response = client.post(f"/admin/keys/{old['id']}/rotate", headers=MASTER)
    # Then the new key has the same name, scopes and binding; the old one is refused
    new = response.get_json()
    assert response.status_code == 201
    assert new["key"] != old["key"]
    assert (new["name"], new["scopes"], new["environment"]) == (
        "platform",
        ["read", "write"],
        "staging",
    )
    assert new["rotated_from"] == old["id"]
    assert _valid(client, new["key"])
    assert not _valid(client, old["key"])
    audit = client.get("/admin/audit?limit=1", headers=MASTER).get_json()
    assert [(e["action"], e["key_id"], e["new_key_id"]) for e in audit] == [
        ("rotate", old["id"], new["id"])
    ]


def test_rotate_key__grace_period__both_keys_work_until_it_ends(client: FlaskClient) -> None:
    # Given a key
    old = _create(client)
    # When it is rotated with a 2-second grace period
    response = client.post(
        f"/admin/keys/{old['id']}/rotate", json={"grace_seconds": 2}, headers=MASTER
    )
    new = response.get_json()
    # Then both keys work during the grace period, and only the new one after it
    assert response.status_code == 201
    assert _valid(client, old["key"])
    assert _valid(client, new["key"])
    ends = datetime.fromisoformat(new["previous_key_expires_at"])
    time.sleep(max(0.0, (ends - datetime.now(UTC)).total_seconds()) + 0.1)
    assert not _valid(client, old["key"])
    assert _valid(client, new["key"])


@pytest.mark.parametrize("body", [{"grace_seconds": -1}, {"grace_seconds": "60"}])
def test_rotate_key__bad_grace__422(client: FlaskClient, body: dict[str, Any]) -> None:
    # Given / When / Then
    old = _create(client)
    response = client.post(f"/admin/keys/{old['id']}/rotate", json=body, headers=MASTER)
    assert response.status_code == 422
    assert "grace_seconds" in response.get_json()["error"]


def test_rotate_key__revoked_key__409(client: FlaskClient) -> None:
    # Given a revoked key
    old = _create(client)
    client.post(f"/admin/keys/{old['id']}/revoke", headers=MASTER)
    # When it is rotated / Then
    assert client.post(f"/admin/keys/{old['id']}/rotate", headers=MASTER).status_code == 409


def test_audit__pages__newest_first_with_before_id(client: FlaskClient) -> None:
    # Given three created keys
    ids = [_create(client, name=f"k{i}")["id"] for i in range(3)]
    # When the audit is read two at a time
    first = client.get("/admin/audit?limit=2", headers=MASTER).get_json()
    rest = client.get(f"/admin/audit?before_id={first[-1]['id']}", headers=MASTER).get_json()
    # Then it pages back through the records, each with when
    assert [e["key_id"] for e in first + rest] == ids[::-1]
    assert all(datetime.fromisoformat(e["at"]) <= datetime.now(UTC) for e in first + rest)


@pytest.mark.parametrize("query", ["limit=0", "limit=abc", "limit=1001", "before_id=-1"])
def test_audit__bad_paging__422(client: FlaskClient, query: str) -> None:
    # Given / When / Then
    assert client.get(f"/admin/audit?{query}", headers=MASTER).status_code == 422


def test_environment_keys__bound_keys__counts_active_ones_for_a_write_key_bound_there(
    client: FlaskClient,
) -> None:
    # Given two keys bound to staging (one revoked), one to production and one unbound
    writer = _create(client, scopes=["write"], environment="staging")
    revoked = _create(client, environment="staging")
    client.post(f"/admin/keys/{revoked['id']}/revoke", headers=MASTER)
    _create(client, environment="production")
    _create(client)
    # When a write key bound to staging asks how many keys staging has
    response = client.get("/environments/staging/keys", headers=_bearer(writer["key"]))
    # Then only the active one bound to staging counts
    assert response.status_code == 200
    assert response.get_json() == {"environment": "staging", "active_keys": 1}
    assert client.get("/environments/qa/keys", headers=MASTER).get_json()["active_keys"] == 0


@pytest.mark.parametrize(
    ("scopes", "environment"),
    [(["write"], None), (["admin"], None), (["write", "read"], "qa"), (["write"], "staging")],
)
def test_environment_keys__unbound_or_own_environment_write_or_admin_key__200(
    client: FlaskClient, scopes: list[str], environment: str | None
) -> None:
    # Given a key that may manage environments: unbound (as the flags function forwards
    # when deleting one), or bound to the environment it asks about
    key = _create(client, scopes=scopes, environment=environment)["key"]
    asked = environment or "staging"
    # When it asks / Then it is answered
    response = client.get(f"/environments/{asked}/keys", headers=_bearer(key))
    assert response.status_code == 200
    assert response.get_json()["environment"] == asked


@pytest.mark.parametrize(
    ("scopes", "environment", "named"),
    [
        (["write"], "production", "production"),
        (["read", "write", "evaluate"], "qa", "qa"),
        (["evaluate"], None, "write"),
        (["read"], None, "write"),
        (["evaluate"], "staging", "write"),
    ],
)
def test_environment_keys__key_bound_elsewhere_or_without_write__403(
    client: FlaskClient, scopes: list[str], environment: str | None, named: str
) -> None:
    # Given a key bound to another environment, or one that may not manage environments
    key = _create(client, scopes=scopes, environment=environment)["key"]
    _create(client, environment="staging")
    # When it asks how many keys staging has
    response = client.get("/environments/staging/keys", headers=_bearer(key))
    # Then it is refused, saying why, and learns no count
    assert response.status_code == 403
    assert named in response.get_json()["error"]
    assert "active_keys" not in response.get_json()


def test_environment_keys__bad_name_or_no_key__422_and_401(client: FlaskClient) -> None:
    # Given a key
    key = _create(client)["key"]
    # When / Then
    assert client.get("/environments/Bad!/keys", headers=_bearer(key)).status_code == 422
    assert client.get("/environments/staging/keys").status_code == 401
    assert client.get("/environments/staging/keys", headers=_bearer("tm_key_x")).status_code == 401


def test_last_used_at__validations__merged_in_batches_not_written_per_request(
    client: FlaskClient, auth_db: str
) -> None:
    # Given a key validated three times
    created = _create(client)
    for _ in range(3):
        assert _valid(client, created["key"])
    # When nobody has listed the keys yet, the table is untouched; listing merges the batch
    with psycopg.connect(auth_db) as conn:
        before = conn.execute("SELECT last_used_at FROM api_keys").fetchone()
    shown = client.get(f"/admin/keys/{created['id']}", headers=MASTER).get_json()
    # Then
    assert before == (None,)
    used = datetime.fromisoformat(shown["last_used_at"])
    assert datetime.now(UTC) - timedelta(seconds=30) < used <= datetime.now(UTC)


def test_validate__valid_key__nothing_but_its_last_use_written_to_redis(
    client: FlaskClient, shared_redis: redis.Redis
) -> None:
    # Given a Redis with nothing of ToggleMaster's keys in it
    for name in shared_redis.scan_iter("tm:keys:*"):
        shared_redis.delete(name)
    # When a key is validated
    created = _create(client, scopes=["read"])
    assert _valid(client, created["key"])
    # Then Redis holds when it was used, and nothing another function would trust: no
    # grant, no hash
    key_hash = hashlib.sha256(created["key"].encode()).hexdigest()
    names = {name.decode() for name in shared_redis.scan_iter("tm:keys:*")}
    assert names == {KEY_USAGE}
    assert not [name for name in shared_redis.scan_iter(f"*{key_hash}*")]


def test_logs__whole_lifecycle__never_a_key_or_hash(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    # Given every log record captured
    caplog.set_level(logging.DEBUG)
    # When keys are created, validated, rotated and revoked
    first = _create(client)
    _valid(client, first["key"])
    second = client.post(
        f"/admin/keys/{first['id']}/rotate", json={"grace_seconds": 60}, headers=MASTER
    ).get_json()
    client.post(f"/admin/keys/{second['id']}/revoke", headers=MASTER)
    _valid(client, second["key"])
    # Then no record mentions a key or its hash
    text = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "api key rotated" in text
    for secret in (first["key"], second["key"]):
        assert secret[7:] not in text
        assert hashlib.sha256(secret.encode()).hexdigest() not in text


def test_migrate__seed_era_key__keeps_working_with_seed_scopes(
    fresh_database: DatabaseFactory,
    function_client: ClientFactory,
    tmp_path: Path,
) -> None:
    # Given a database migrated with 001 only, holding a key made as the old system did
    url = fresh_database("auth")
    old_root = tmp_path / "sql"
    (old_root / "auth").mkdir(parents=True)
    shutil.copy(sql_dir() / "auth" / "001_api_keys.sql", old_root / "auth")
    migrate(url, ["auth"], old_root)
    key = "tm_key_" + "ab" * 32
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO api_keys (name, key_hash) VALUES ('legacy', %s)",
            (hashlib.sha256(key.encode()).hexdigest(),),
        )
    # When the later migrations run and the key is validated
    applied = migrate(url, ["auth"])
    client = function_client("auth", {"DATABASE_URL": url, "MASTER_KEY": MASTER_KEY})
    response = client.get("/validate", headers=_bearer(key))
    # Then it keeps working, with the seed scopes and no visible prefix
    assert applied
    assert response.status_code == 200
    assert response.get_json()["scopes"] == ["evaluate", "read", "write"]
    listed = client.get("/admin/keys", headers=MASTER).get_json()
    assert listed[0]["prefix"] is None
    assert listed[0]["active"] is True
