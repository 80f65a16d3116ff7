"""Bootstrap's service key: read scope only, the previous one retired after a grace
period (or at once), all audited; the change goes out as a signed notice, and commits
whether or not Redis answers (readers catch up by their version check)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import redis
from flask.testing import FlaskClient

from functions.commands.bootstrap import (
    SERVICE_KEY_NAME,
    keep_or_provision_key,
    main,
    provision_service_key,
)
from functions.core.adapters.migrations import migrate
from functions.core.keys.material import hash_key
from functions.core.keys.signing import Signer
from functions.core.redis_keys import SNAPSHOT_CHANGES_CHANNEL
from functions.core.snapshot.notices import KEYS_SOURCE, parse_notice
from functions.devstack.processes import free_port

DatabaseFactory = Callable[[str], str]
ClientFactory = Callable[[str, dict[str, str]], FlaskClient]


@pytest.fixture
def auth_db(fresh_database: DatabaseFactory) -> str:
    url = fresh_database("auth")
    migrate(url, ["auth"])
    return url


def _expiries(url: str) -> list[tuple[str, bool, datetime | None]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT key_hash, is_active, expires_at FROM api_keys ORDER BY id")
        return [(str(h), bool(a), e) for h, a, e in rows.fetchall()]


def test_provision_service_key__run_twice__old_key_works_for_ten_minutes_and_is_announced(
    fresh_database: DatabaseFactory, function_client: ClientFactory, redis_url: str
) -> None:
    # Given a migrated auth database with a first service key, and a reader of notices
    url = fresh_database("auth")
    migrate(url, ["auth"])
    secret = secrets.token_hex(32)
    first = provision_service_key(url, redis_url=redis_url, grant_secret=secret)
    listener = redis.Redis.from_url(redis_url).pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call, unused-ignore]  # typed from redis 8.2
    listener.subscribe(SNAPSHOT_CHANGES_CHANNEL)
    listener.get_message(timeout=1)
    # When bootstrap runs again (a deploy), with the default grace period
    second = provision_service_key(url, redis_url=redis_url, grant_secret=secret)
    # Then the new key is active with exactly the read scope, and the old one still
    # works, for ten minutes; the audit says bootstrap rotated it to the new key
    soon = datetime.now(UTC) + timedelta(seconds=600)
    with psycopg.connect(url) as conn:
        keys = conn.execute("SELECT id, key_hash, is_active, scopes FROM api_keys ORDER BY id")
        (old_id, *old), (new_id, *new) = keys.fetchall()
        audit = conn.execute(
            "SELECT action, key_id, new_key_id, actor FROM api_key_audit ORDER BY id"
        ).fetchall()
    assert old == [hash_key(first), True, ["read"]]
    assert new == [hash_key(second), True, ["read"]]
    (_, _, ends), (_, _, never) = _expiries(url)
    assert ends is not None and abs((ends - soon).total_seconds()) < 30
    assert never is None
    assert audit == [
        ("create", old_id, None, "bootstrap"),
        ("create", new_id, None, "bootstrap"),
        ("rotate", old_id, new_id, "bootstrap"),
    ]
    # And the change went out as a key notice signed with the secret
    message = listener.get_message(timeout=5)
    assert message is not None
    notice = parse_notice(message["data"], Signer(secret))
    assert notice is not None and notice.source == KEYS_SOURCE
    assert {change.key for change in notice.changes} == {str(old_id), str(new_id)}
    auth = function_client(
        "auth",
        {"DATABASE_URL": url, "MASTER_KEY": secrets.token_urlsafe(32), "REDIS_URL": redis_url},
    )
    validated = auth.get("/validate", headers={"Authorization": f"Bearer {first}"})
    assert validated.status_code == 200
    assert datetime.fromisoformat(validated.get_json()["expires_at"]) == ends


def test_provision_service_key__third_run__grace_of_older_keys_never_extended(
    auth_db: str,
) -> None:
    # Given two runs: the first key is in its grace period
    provision_service_key(auth_db, grace_seconds=60)
    provision_service_key(auth_db, grace_seconds=60)
    (_, _, first_ends), *_ = _expiries(auth_db)
    # When a third run asks for a longer grace
    provision_service_key(auth_db, grace_seconds=3600)
    # Then the first key still ends when it did; the second gets the new grace
    (_, _, still), (_, _, second_ends), (_, _, never) = _expiries(auth_db)
    assert first_ends is not None and second_ends is not None
    assert still == first_ends
    assert second_ends > first_ends + timedelta(minutes=50)
    assert never is None


def test_provision_service_key__no_grace__old_key_revoked_at_once(
    auth_db: str, redis_url: str
) -> None:
    # Given a first service key
    first = provision_service_key(auth_db, redis_url=redis_url)
    # When bootstrap runs again with no grace period
    second = provision_service_key(auth_db, redis_url=redis_url, grace_seconds=0)
    # Then only the new key is active, and the audit records a revocation
    assert [(h, a) for h, a, _ in _expiries(auth_db)] == [
        (hash_key(first), False),
        (hash_key(second), True),
    ]
    with psycopg.connect(auth_db) as conn:
        actions = conn.execute("SELECT action FROM api_key_audit ORDER BY id").fetchall()
    assert actions == [("create",), ("create",), ("revoke",)]


def test_provision_service_key__redis_unreachable__committed_without_a_notice(
    auth_db: str, redis_url: str
) -> None:
    # Given a first service key
    first = provision_service_key(auth_db, redis_url=redis_url)
    # When bootstrap runs again, with no grace, but cannot reach Redis
    second = provision_service_key(
        auth_db,
        redis_url=f"redis://127.0.0.1:{free_port()}/0",
        grant_secret=secrets.token_hex(32),
        grace_seconds=0,
    )
    # Then the change is made all the same: readers see it by their version check
    assert _expiries(auth_db) == [(hash_key(first), False, None), (hash_key(second), True, None)]


def test_main__grace_seconds_option__old_key_ends_then(
    auth_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a first service key
    provision_service_key(auth_db)
    # When bootstrap runs from the command line with a 5-second grace period
    status = main(["--auth-url", auth_db, "--grace-seconds", "5"])
    # Then it prints the new key, and the old one ends five seconds later
    printed = capsys.readouterr().out.strip()
    (_, _, ends), (new_hash, _, _) = _expiries(auth_db)
    assert status == 0
    assert new_hash == hash_key(printed)
    assert ends is not None
    assert abs((ends - datetime.now(UTC)).total_seconds() - 5) < 3


def test_main__redis_unreachable__new_key_printed(
    auth_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a first service key
    provision_service_key(auth_db)
    # When bootstrap runs again but cannot reach Redis
    status = main(["--auth-url", auth_db, "--redis-url", f"redis://127.0.0.1:{free_port()}/0"])
    # Then the new key is made and printed
    printed = capsys.readouterr().out.strip()
    assert status == 0
    assert _expiries(auth_db)[-1][0] == hash_key(printed)


WALKTHROUGH = frozenset({"read", "write", "evaluate"})


def _keys_named(url: str, name: str) -> list[tuple[str, bool]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT key_hash, is_active FROM api_keys WHERE name = %s ORDER BY id", (name,)
        ).fetchall()
    return [(str(key_hash), bool(active)) for key_hash, active in rows]


def test_keep_or_provision_key__kept_key_still_usable__same_key_nothing_added(
    auth_db: str, redis_url: str
) -> None:
    # Given the key a first `make dev` minted and exported
    first = keep_or_provision_key(
        auth_db, name="dev-walkthrough", scopes=WALKTHROUGH, kept=None, redis_url=redis_url
    )
    # When `make dev` starts again, twice, with that key
    again = [
        keep_or_provision_key(
            auth_db, name="dev-walkthrough", scopes=WALKTHROUGH, kept=first, redis_url=redis_url
        )
        for _ in range(2)
    ]
    # Then it is kept, and the database holds that one key, active
    assert again == [first, first]
    assert _keys_named(auth_db, "dev-walkthrough") == [(hash_key(first), True)]


@pytest.mark.parametrize(
    "spoil",
    [
        "UPDATE api_keys SET is_active = FALSE, revoked_at = now()",
        "UPDATE api_keys SET expires_at = now() - interval '1 second'",
        "UPDATE api_keys SET scopes = ARRAY['read']",
        "UPDATE api_keys SET name = 'renamed'",
    ],
)
def test_keep_or_provision_key__kept_key_unusable__new_key_and_the_others_revoked(
    auth_db: str, redis_url: str, spoil: str
) -> None:
    # Given an exported key that was revoked, expired, narrowed or renamed since
    kept = keep_or_provision_key(
        auth_db, name="dev-walkthrough", scopes=WALKTHROUGH, kept=None, redis_url=redis_url
    )
    with psycopg.connect(auth_db) as conn:
        conn.execute(spoil)
    # When `make dev` starts again with it
    new = keep_or_provision_key(
        auth_db, name="dev-walkthrough", scopes=WALKTHROUGH, kept=kept, redis_url=redis_url
    )
    # Then a new key with the scopes asked for is the only active one of its name
    assert new != kept
    assert _keys_named(auth_db, "dev-walkthrough")[-1] == (hash_key(new), True)
    assert [active for _, active in _keys_named(auth_db, "dev-walkthrough")[:-1]] == [False] * (
        len(_keys_named(auth_db, "dev-walkthrough")) - 1
    )
    with psycopg.connect(auth_db) as conn:
        (scopes,) = conn.execute(
            "SELECT scopes FROM api_keys WHERE key_hash = %s", (hash_key(new),)
        ).fetchone() or (None,)
    assert sorted(scopes) == sorted(WALKTHROUGH)


@pytest.mark.parametrize("kept", [None, "", "not-a-key", "tm_key_" + "0" * 64])
def test_keep_or_provision_key__nothing_usable_kept__one_active_key_of_the_name(
    auth_db: str, redis_url: str, kept: str | None
) -> None:
    # Given an earlier service key (a database used by another stack before)
    earlier = provision_service_key(auth_db, redis_url=redis_url)
    # When `make dev` has no usable key of its own to keep
    new = keep_or_provision_key(
        auth_db, name=SERVICE_KEY_NAME, scopes=frozenset({"read"}), kept=kept, redis_url=redis_url
    )
    # Then the new key is the only active one: the earlier one is revoked at once
    assert _keys_named(auth_db, SERVICE_KEY_NAME) == [
        (hash_key(earlier), False),
        (hash_key(new), True),
    ]
