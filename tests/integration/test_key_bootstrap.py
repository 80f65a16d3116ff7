"""Bootstrap's service key: read scope only, the previous one retired, all audited."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import redis

from functions.bootstrap import SERVICE_KEY_NAME, provision_service_key
from functions.core import key_cache
from functions.core.keys import hash_key
from functions.core.schema import migrate

DatabaseFactory = Callable[[str], str]


def test_provision_service_key__run_twice__one_active_read_key_and_the_old_one_announced(
    fresh_database: DatabaseFactory, redis_url: str
) -> None:
    # Given a migrated auth database, and a first service key shared in Redis
    url = fresh_database("auth")
    migrate(url, ["auth"])
    client = redis.Redis.from_url(redis_url)
    first = provision_service_key(url, redis_url=redis_url)
    grant = key_cache.Grant(1, SERVICE_KEY_NAME, frozenset({"read"}), None, None)
    key_cache.share_grant(client, hash_key(first), grant, version=key_cache.keys_version(client))
    version = key_cache.keys_version(client)
    # When bootstrap runs again
    second = provision_service_key(url, redis_url=redis_url)
    # Then only the new key is active, with exactly the read scope, and the old one is
    # gone from every cache; the audit says bootstrap did it
    with psycopg.connect(url) as conn:
        keys = conn.execute(
            "SELECT key_hash, is_active, scopes FROM api_keys ORDER BY id"
        ).fetchall()
        audit = conn.execute("SELECT action, actor FROM api_key_audit ORDER BY id").fetchall()
    assert keys == [(hash_key(first), False, ["read"]), (hash_key(second), True, ["read"])]
    assert audit == [("create", "bootstrap"), ("create", "bootstrap"), ("revoke", "bootstrap")]
    assert key_cache.keys_version(client) == version + 1
    assert client.get(key_cache.GRANT_PREFIX + hash_key(first)) is None
