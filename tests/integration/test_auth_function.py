"""The auth function against a freshly migrated PostgreSQL (DESIGN.md §2, auth)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable

import psycopg
import pytest
from flask.testing import FlaskClient

MASTER_KEY = secrets.token_urlsafe(32)
ClientFactory = Callable[[str, dict[str, str]], FlaskClient]
DatabaseFactory = Callable[[str], str]


@pytest.fixture
def client(function_client: ClientFactory, auth_db: str) -> FlaskClient:
    return function_client("auth", {"DATABASE_URL": auth_db, "MASTER_KEY": MASTER_KEY})


def _create(client: FlaskClient, name: str = "platform") -> str:
    response = client.post(
        "/admin/keys", json={"name": name}, headers={"Authorization": f"Bearer {MASTER_KEY}"}
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return str(response.get_json()["key"])


def test_create_key__master_key__201_with_plaintext_shown_once(
    client: FlaskClient, auth_db: str
) -> None:
    # Given the master key
    # When a key is created
    response = client.post(
        "/admin/keys", json={"name": "platform"}, headers={"Authorization": f"Bearer {MASTER_KEY}"}
    )
    # Then the seed's fields come back and only the SHA-256 of the key is stored
    body = response.get_json()
    assert response.status_code == 201
    assert {"name", "key", "message"} <= set(body)
    assert body["name"] == "platform"
    assert body["key"].startswith("tm_key_")
    with psycopg.connect(auth_db) as conn:
        rows = conn.execute("SELECT key_hash, is_active FROM api_keys").fetchall()
    assert rows == [(hashlib.sha256(body["key"].encode()).hexdigest(), True)]


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-master-key", "Basic abc", "Bearer "])
def test_create_key__wrong_or_missing_master__403_json(
    client: FlaskClient, authorization: str | None
) -> None:
    # Given a wrong or missing master key
    headers = {"Authorization": authorization} if authorization else {}
    # When a key is requested
    response = client.post("/admin/keys", json={"name": "platform"}, headers=headers)
    # Then it is the seed's 403 (DESIGN.md §2), with a JSON error saying which
    assert response.status_code == 403
    body = response.get_json()
    assert body["reason"] in ("missing", "not_a_key")
    assert "master key" in body["error"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 400),
        ({"name": ""}, 400),
        ({"name": None}, 400),
        ({"name": 12}, 422),
        ({"name": "x" * 101}, 422),
    ],
)
def test_create_key__missing_name_400_bad_name_422_json(
    client: FlaskClient, body: dict[str, object], status: int
) -> None:
    # Given / When a key is requested with a missing (the seed's 400) or a bad name
    response = client.post(
        "/admin/keys", json=body, headers={"Authorization": f"Bearer {MASTER_KEY}"}
    )
    # Then
    assert response.status_code == status
    assert "name" in response.get_json()["error"]


def test_create_key__unknown_field__422_naming_it_and_name_required(client: FlaskClient) -> None:
    # Given / When a key is requested with a field auth does not take, and no name
    response = client.post(
        "/admin/keys", json={"other": "platform"}, headers={"Authorization": f"Bearer {MASTER_KEY}"}
    )
    # Then the unknown field is refused first, and the missing name said too
    assert response.status_code == 422
    body = response.get_json()
    assert body["field"] == "other"
    assert body["accepted"] == ["name", "scopes", "environment", "expires_at"]
    assert "'name' is required" in body["error"]


def test_validate__active_key__200_with_identity(client: FlaskClient) -> None:
    # Given a new key
    key = _create(client)
    # When it is validated
    response = client.get("/validate", headers={"Authorization": f"Bearer {key}"})
    # Then the seed's message comes back with who it is
    assert response.status_code == 200
    body = response.get_json()
    assert body["message"]
    assert body["name"] == "platform"
    assert isinstance(body["id"], int)


@pytest.mark.parametrize(
    "authorization", [None, "Bearer tm_key_unknown", "Bearer not-a-key", "Bearer " + "x" * 5000]
)
def test_validate__unknown_or_missing_key__401_json(
    client: FlaskClient, authorization: str | None
) -> None:
    # Given / When
    headers = {"Authorization": authorization} if authorization else {}
    response = client.get("/validate", headers=headers)
    # Then
    assert response.status_code == 401
    assert response.get_json()["error"]


def test_validate__deactivated_key__401(client: FlaskClient, auth_db: str) -> None:
    # Given a key deactivated in the table
    key = _create(client)
    with psycopg.connect(auth_db) as conn:
        conn.execute("UPDATE api_keys SET is_active = FALSE")
    # When it is validated
    response = client.get("/validate", headers={"Authorization": f"Bearer {key}"})
    # Then
    assert response.status_code == 401


def test_probes__migrated_database__health_and_ready(client: FlaskClient) -> None:
    # Given / When / Then
    assert client.get("/health").get_json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.get_json()["status"] == "ready"
