"""Readiness names what is wrong: a missing schema, a host that does not resolve
(seed report §1.3, §1.6)."""

from __future__ import annotations

import secrets
from collections.abc import Callable

from flask.testing import FlaskClient

from functions.core.adapters.migrations import migrate

ClientFactory = Callable[[str, dict[str, str]], FlaskClient]
DatabaseFactory = Callable[[str], str]


def test_ready__unmigrated_database__503_naming_make_migrate(
    function_client: ClientFactory, fresh_database: DatabaseFactory
) -> None:
    # Given the auth function on an empty database
    client = function_client(
        "auth", {"DATABASE_URL": fresh_database("auth"), "MASTER_KEY": secrets.token_urlsafe(32)}
    )
    # When readiness is asked
    response = client.get("/ready")
    # Then it is not ready, and says which command fixes it
    assert response.status_code == 503
    assert "make migrate" in response.get_json()["error"]
    assert client.get("/health").status_code == 200


def test_ready__unresolvable_database_host__503_naming_variable(
    function_client: ClientFactory,
) -> None:
    # Given the seed's broken DATABASE_URL
    client = function_client(
        "auth",
        {
            "DATABASE_URL": "postgresql://u:p@flags-postgres.invalid:5432/flags_db",
            "MASTER_KEY": secrets.token_urlsafe(32),
        },
    )
    # When readiness is asked
    body = client.get("/ready").get_json()
    # Then the variable and host are named
    assert body["status"] == "unavailable"
    assert "DATABASE_URL" in body["error"]
    assert "flags-postgres.invalid" in body["error"]


def test_ready__targeting_on_another_database__503_saying_it_must_share_flags_database(
    function_client: ClientFactory, fresh_database: DatabaseFactory, redis_url: str, auth_db: str
) -> None:
    # Given targeting pointed at a database without the flags table
    url = fresh_database("elsewhere")
    migrate(url, ["auth"])
    client = function_client(
        "targeting",
        {
            "DATABASE_URL": url,
            "REDIS_URL": redis_url,
            "AUTH_SERVICE_URL": "http://127.0.0.1:9",
            "AUTH_DATABASE_URL": auth_db,
        },
    )
    # When readiness is asked
    body = client.get("/ready").get_json()
    # Then it says targeting must share the flags function's database
    assert body["status"] == "unavailable"
    assert "configuration database that the flags function uses" in body["error"]


def test_ready__flags_with_migrated_database_and_redis__ready(
    function_client: ClientFactory, fresh_database: DatabaseFactory, redis_url: str, auth_db: str
) -> None:
    # Given a migrated configuration database and Redis
    url = fresh_database("config")
    migrate(url, ["flags", "targeting"])
    client = function_client(
        "flags",
        {
            "DATABASE_URL": url,
            "REDIS_URL": redis_url,
            "AUTH_SERVICE_URL": "http://127.0.0.1:9",
            "AUTH_DATABASE_URL": auth_db,
        },
    )
    # When / Then
    response = client.get("/ready")
    assert response.status_code == 200, response.get_json()
    assert set(response.get_json()["checks"]) == {"database", "redis"}
