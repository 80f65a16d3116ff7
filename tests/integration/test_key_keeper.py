"""The keys flags and targeting hold (`snapshot.key_keeper`), against real PostgreSQL and
Redis: a made-up key costs no query, a revocation arrives without Redis within the
bound, only signed notices are believed, a new key works at once, and a retired key's
refusal says why."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from functions.core.adapters import db
from functions.core.adapters.redis_clients import redis_client
from functions.core.keys.material import generate_key, hash_key
from functions.core.keys.signing import NOTICE, Signer
from functions.core.models.keys import (
    REFUSED,
    CreateKeyRequest,
    Grant,
    Refusal,
    RotateKeyRequest,
)
from functions.core.redis_keys import SNAPSHOT_CHANGES_CHANNEL
from functions.core.services.keys import Actor, AuthService
from functions.core.snapshot import key_keeper
from functions.core.snapshot.key_keeper import REVOCATION_BOUND_SECONDS, KeyKeeper
from functions.devstack.processes import free_port

SECRET = secrets.token_hex(32)
KeeperFactory = Callable[..., KeyKeeper]


@pytest.fixture
def keys(auth_db: str, redis_url: str) -> Iterator[AuthService]:
    yield AuthService(
        database_url=auth_db,
        master_key=secrets.token_urlsafe(32),
        redis_url=redis_url,
        grant_secret=SECRET,
    )
    db.close_all()


@pytest.fixture
def keeper_for(auth_db: str, redis_url: str) -> Iterator[KeeperFactory]:
    made: list[KeyKeeper] = []

    def make(*, check_seconds: float = 60.0, redis: str | None = None) -> KeyKeeper:
        url = redis or redis_url
        keeper = KeyKeeper(
            auth_database_url=auth_db,
            redis_factory=lambda: redis_client(url),
            signer=Signer(SECRET),
            check_seconds=check_seconds,
        )
        made.append(keeper)
        keeper.start()
        deadline = time.monotonic() + 5
        while not _ready(keeper.status(), subscribed=redis is None):
            assert time.monotonic() < deadline, f"not ready: {keeper.status()}"
            time.sleep(0.01)
        return keeper

    yield make
    for keeper in made:
        keeper.close()


def _ready(status: dict[str, Any], *, subscribed: bool) -> bool:
    """Loaded from PostgreSQL, and listening when the test's Redis is the real one: a
    version read before the first load would be the empty one."""
    return bool(status["loaded"]) and (not subscribed or status["notices"] == "subscribed")


def _create(keys: AuthService, **fields: Any) -> tuple[int, str]:
    created = keys.create_key(
        CreateKeyRequest.model_validate({"name": "app", **fields}), actor=Actor.master()
    )
    return created.id, created.key


def test_lookup__made_up_keys__refused_without_a_query(
    keeper_for: KeeperFactory, keys: AuthService, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a keeper holding the keys (a real one among them), and every way it has to
    # the auth database watched
    _, real = _create(keys, scopes=["read"])
    keeper = keeper_for()
    assert isinstance(keeper.lookup(hash_key(real), time.time()), Grant)
    opened: list[str] = []
    reads = keeper._database.read

    def read(reader: Any) -> Any:
        opened.append("read")
        return reads(reader)

    def transaction(url: str) -> Any:
        opened.append("transaction")
        return db.transaction(url)

    monkeypatch.setattr(keeper._database, "read", read)
    monkeypatch.setattr(key_keeper, "transaction", transaction)
    # When 500 made-up keys are looked up
    answers = [keeper.lookup(hash_key(generate_key()), time.time()) for _ in range(500)]
    # Then each is refused as unknown, and none opened a transaction
    assert all(answer is REFUSED for answer in answers)
    assert opened == []


def test_lookup__key_revoked_while_redis_is_down__refused_within_the_bound(
    keeper_for: KeeperFactory, keys: AuthService
) -> None:
    # Given a keeper whose Redis is a closed port, holding a key, and the default period
    key_id, key = _create(keys, scopes=["read"])
    keeper = keeper_for(check_seconds=0.5, redis=f"redis://127.0.0.1:{free_port()}/0")
    assert isinstance(keeper.lookup(hash_key(key), time.time()), Grant)
    # When the key is revoked (auth cannot tell anyone through Redis either)
    started = time.monotonic()
    keys.revoke_key(key_id, actor=Actor.master())
    # Then the keeper refuses it within the bound, saying it was revoked
    while isinstance(answer := keeper.lookup(hash_key(key), time.time()), Grant):
        assert time.monotonic() - started < REVOCATION_BOUND_SECONDS, "still accepted"
        time.sleep(0.01)
    assert isinstance(answer, Refusal) and answer.reason == "revoked"


def _notice(key_id: int, key_hash: str, version: int, epoch: str) -> bytes:
    document = {
        "id": key_id,
        "key_hash": key_hash,
        "scopes": ["admin", "read", "write", "evaluate"],
        "environment": None,
        "expires_at": None,
        "active": True,
    }
    change = {"kind": "key", "key": str(key_id), "environment": None, "document": document}
    body = {
        "source": "keys",
        "epoch": epoch,
        "version": version,
        "changes": [change],
        "complete": True,
    }
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    "seal",
    [
        pytest.param(lambda raw: raw, id="unsigned"),
        pytest.param(
            lambda raw: Signer(secrets.token_hex(32)).seal(NOTICE, raw), id="other secret"
        ),
    ],
)
def test_notice__made_up_key_not_signed_by_the_secret__ignored(
    keeper_for: KeeperFactory, keys: AuthService, redis_url: str, seal: Callable[[bytes], bytes]
) -> None:
    # Given a subscribed keeper
    _create(keys)
    keeper = keeper_for()
    held = keeper.version
    made_up = generate_key()
    # When a Redis writer publishes a notice adding a made-up key at the next version
    raw = _notice(999_999, hash_key(made_up), held.version + 1, held.epoch)
    redis_client(redis_url).publish(SNAPSHOT_CHANGES_CHANNEL, seal(raw))
    time.sleep(0.3)
    # Then the key gets nothing, and the keeper's version has not moved
    assert keeper.lookup(hash_key(made_up), time.time()) is REFUSED
    assert keeper.version == held


def test_lookup__key_created_a_moment_ago__accepted_at_once(
    keeper_for: KeeperFactory, keys: AuthService
) -> None:
    # Given a keeper that checks PostgreSQL only every minute
    keeper = keeper_for(check_seconds=60.0)
    # When keys are created and used on it right away
    for _ in range(20):
        _, key = _create(keys, scopes=["read"])
        # Then each is accepted: its signed notice arrived, or the miss waited for it
        assert isinstance(keeper.lookup(hash_key(key), time.time()), Grant)


def test_lookup__rotated_and_revoked_keys__refusal_says_which(
    keeper_for: KeeperFactory, keys: AuthService
) -> None:
    # Given a key revoked and one rotated out, before and after the keeper started
    revoked_id, revoked = _create(keys)
    keys.revoke_key(revoked_id, actor=Actor.master())
    keeper = keeper_for()
    rotated_id, rotated = _create(keys)
    replacement = keys.rotate_key(
        rotated_id, RotateKeyRequest.model_validate({}), actor=Actor.master()
    )
    # When each is looked up
    time.sleep(0.3)
    first = keeper.lookup(hash_key(revoked), time.time())
    second = keeper.lookup(hash_key(rotated), time.time())
    # Then each refusal says why
    assert isinstance(first, Refusal) and first.reason == "revoked"
    assert isinstance(second, Refusal) and second.reason == "rotated"
    assert f"key id {replacement.id}" in second.message


def test_hashes__never_in_redis(
    redis_url: str, keeper_for: KeeperFactory, keys: AuthService
) -> None:
    # Given a key in use on a keeper
    _, key = _create(keys)
    keeper = keeper_for()
    assert isinstance(keeper.lookup(hash_key(key), time.time()), Grant)
    # When / Then nothing in Redis is named after its hash
    digest = hashlib.sha256(key.encode()).hexdigest()
    assert not list(redis_client(redis_url).scan_iter(f"*{digest}*"))
