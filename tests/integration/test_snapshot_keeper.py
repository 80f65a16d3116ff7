"""The snapshot keeper against real PostgreSQL and Redis: first load, notices, the version
check that catches a lost notice, the Redis copy a cold start uses, and staleness."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
import redis

from functions.core import engine
from functions.core.adapters.migrations import migrate
from functions.core.adapters.redis_clients import redis_client
from functions.core.keys.signing import Signer
from functions.core.models.flags import CreateFlagRequest, UpdateFlagRequest
from functions.core.models.keys import CreateKeyRequest
from functions.core.models.targeting import CreateRuleRequest
from functions.core.redis_keys import SNAPSHOT_CONFIG, SNAPSHOT_KEYS
from functions.core.services.flags import FlagService
from functions.core.services.keys import Actor, AuthService
from functions.core.services.targeting import TargetingService
from functions.core.snapshot.keeper import SnapshotKeeper
from functions.core.snapshot.sources import ConfigSource, KeySource, ReadOnlyDatabase

NOWHERE = "postgresql://nobody@127.0.0.1:9/none?connect_timeout=1"
SECRET = secrets.token_hex(32)


def eventually(check: Callable[[], bool], within: float = 2.0) -> float:
    """Seconds until `check` holds; fails after `within`."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > within:
            pytest.fail(f"not within {within} s")
        time.sleep(0.005)
    return time.monotonic() - start


@pytest.fixture
def databases(fresh_database: Any, redis_url: str) -> Iterator[tuple[str, str]]:
    config = fresh_database("config")
    migrate(config, ["flags", "targeting"])
    auth = fresh_database("auth")
    migrate(auth, ["auth"])
    client = redis_client(redis_url)
    client.delete(SNAPSHOT_CONFIG, SNAPSHOT_KEYS)
    yield config, auth
    client.delete(SNAPSHOT_CONFIG, SNAPSHOT_KEYS)


KeeperFactory = Callable[..., SnapshotKeeper]


@pytest.fixture
def keeper_for(databases: tuple[str, str], redis_url: str) -> Iterator[KeeperFactory]:
    made: list[SnapshotKeeper] = []

    def make(
        *, check_seconds: float = 30.0, config_url: str | None = None, auth_url: str | None = None
    ) -> SnapshotKeeper:
        keeper = SnapshotKeeper(
            redis_factory=lambda: redis_client(redis_url),
            config_source=ConfigSource(ReadOnlyDatabase(config_url or databases[0])),
            key_source=KeySource(ReadOnlyDatabase(auth_url or databases[1])),
            check_seconds=check_seconds,
            stale_after=1.0,
            signer=Signer(SECRET),
        )
        made.append(keeper)
        keeper.start()
        assert keeper.wait_loaded(10), keeper.problem()
        return keeper

    yield make
    for keeper in made:
        keeper.stop()


def flags(databases: tuple[str, str], redis_url: str) -> FlagService:
    return FlagService(database_url=databases[0], redis_url=redis_url)


def subscribed(keeper: SnapshotKeeper, redis_url: str) -> None:
    """Wait until the keeper's listener is subscribed, so a notice published now reaches it."""
    client = redis.Redis.from_url(redis_url)
    eventually(lambda: int(client.pubsub_numsub("tm:snapshot:changes")[0][1]) >= 1, 5)


def test_a_first_start_loads_postgresql_and_writes_the_copy(
    keeper_for: KeeperFactory, databases: tuple[str, str], redis_url: str
) -> None:
    flags(databases, redis_url).create_flag(
        CreateFlagRequest.model_validate({"name": "checkout", "is_enabled": True}),
        environment="production",
    )
    keeper = keeper_for()
    assert keeper.source == "postgresql"
    assert keeper.current.flag("production", "checkout").enabled is True
    assert not keeper.freshness().stale
    client = redis.Redis.from_url(redis_url)
    eventually(lambda: client.hexists(SNAPSHOT_CONFIG, "flag:checkout"))
    eventually(lambda: client.hexists(SNAPSHOT_KEYS, "_meta"))

    second = keeper_for()
    assert second.source == "redis"
    assert second.current.flag("production", "checkout").enabled is True


def test_a_notice_reaches_a_keeper_without_waiting_for_the_check(
    keeper_for: KeeperFactory, databases: tuple[str, str], redis_url: str
) -> None:
    service = flags(databases, redis_url)
    keeper = keeper_for(check_seconds=60)
    subscribed(keeper, redis_url)
    service.create_flag(
        CreateFlagRequest.model_validate({"name": "live"}), environment="production"
    )
    assert eventually(lambda: "live" in keeper.current.flags, 0.5) < 0.1
    service.update_flag(
        "live", UpdateFlagRequest.model_validate({"is_enabled": True}), environment="production"
    )
    eventually(lambda: keeper.current.flag("production", "live").enabled, 0.5)
    assert keeper.current.flag("staging", "live").enabled is False


def test_the_version_check_catches_a_change_whose_notice_was_lost(
    keeper_for: KeeperFactory, databases: tuple[str, str]
) -> None:
    keeper = keeper_for(check_seconds=0.2)
    with psycopg.connect(databases[0], autocommit=True) as conn:
        conn.execute("INSERT INTO flags (name) VALUES ('quiet')")
    eventually(lambda: "quiet" in keeper.current.flags, 2.0)


def test_a_key_revocation_reaches_the_keeper(
    keeper_for: KeeperFactory, databases: tuple[str, str], redis_url: str
) -> None:
    keys = AuthService(
        database_url=databases[1],
        master_key=secrets.token_urlsafe(32),
        redis_url=redis_url,
        grant_secret=SECRET,
    )
    created = keys.create_key(
        CreateKeyRequest.model_validate({"name": "app", "scopes": ["evaluate"]}),
        actor=Actor.master(),
    )
    keeper = keeper_for(check_seconds=60)
    subscribed(keeper, redis_url)
    key_hash = hashlib.sha256(created.key.encode()).hexdigest()
    assert keeper.current.grant(key_hash, time.time()) is not None
    keys.revoke_key(created.id, actor=Actor.master())
    eventually(lambda: keeper.current.grant(key_hash, time.time()) is None, 0.5)


def test_a_cold_start_with_postgresql_down_serves_the_copy_and_says_it_is_stale(
    keeper_for: KeeperFactory, databases: tuple[str, str], redis_url: str
) -> None:
    flags(databases, redis_url).create_flag(
        CreateFlagRequest.model_validate({"name": "kept", "is_enabled": True}),
        environment="production",
    )
    first = keeper_for()
    client = redis.Redis.from_url(redis_url)
    eventually(lambda: client.hexists(SNAPSHOT_CONFIG, "flag:kept"))
    eventually(lambda: client.hexists(SNAPSHOT_KEYS, "_meta"))
    cold = keeper_for(config_url=NOWHERE, auth_url=NOWHERE, check_seconds=0.2)
    assert cold.source == "redis"
    assert cold.current.flag("production", "kept").enabled is True
    assert cold.freshness().stale
    eventually(lambda: "postgresql" in (cold.problem() or ""), 3.0)
    assert not first.freshness().stale


def test_nothing_anywhere_is_not_loaded_and_says_why(redis_url: str) -> None:
    keeper = SnapshotKeeper(
        redis_factory=lambda: redis_client(f"{redis_url.rsplit('/', 1)[0]}/15"),
        config_source=ConfigSource(ReadOnlyDatabase(NOWHERE)),
        key_source=KeySource(ReadOnlyDatabase(NOWHERE)),
        check_seconds=0.1,
    )
    keeper.start()
    try:
        assert not keeper.wait_loaded(0.5)
        problem = keeper.problem() or ""
        assert "no configuration loaded yet" in problem
        assert "postgresql" in problem
    finally:
        keeper.stop()


def test_a_database_made_anew_is_a_new_epoch(
    keeper_for: KeeperFactory, databases: tuple[str, str], redis_url: str
) -> None:
    keeper = keeper_for(check_seconds=0.1)
    epoch = keeper.current.config.epoch
    with psycopg.connect(databases[0], autocommit=True) as conn:
        conn.execute("UPDATE config_state SET epoch = %s", (uuid.uuid4(),))
        conn.execute("INSERT INTO flags (name) VALUES ('after')")
    eventually(lambda: keeper.current.config.epoch != epoch, 2.0)
    assert "after" in keeper.current.flags


def _auth(databases: tuple[str, str], redis_url: str) -> AuthService:
    return AuthService(
        database_url=databases[1],
        master_key=secrets.token_urlsafe(32),
        redis_url=redis_url,
        grant_secret=SECRET,
    )


def test_a_cold_start__made_up_key_written_into_the_copy__copy_ignored_key_refused(
    keeper_for: KeeperFactory, databases: tuple[str, str], redis_url: str
) -> None:
    # Given a real key, and the Redis copy of the keys a first process wrote
    real = _auth(databases, redis_url).create_key(
        CreateKeyRequest.model_validate({"name": "app", "scopes": ["evaluate"]}),
        actor=Actor.master(),
    )
    keeper_for()
    client = redis.Redis.from_url(redis_url)
    eventually(lambda: client.hexists(SNAPSHOT_KEYS, f"key:{real.id}"))
    # When a Redis writer adds a made-up key to the copy, and a process starts cold
    made_up = "tm_key_" + secrets.token_hex(32)
    made_up_hash = hashlib.sha256(made_up.encode()).hexdigest()
    document = {"id": 999999, "key_hash": made_up_hash, "scopes": ["evaluate"], "active": True}
    client.hset(SNAPSHOT_KEYS, "key:999999", json.dumps(document))
    cold = keeper_for()
    # Then the copy of the keys is not believed: the made-up key gets nothing, the real
    # one works (from PostgreSQL)
    now = time.time()
    assert cold.current.grant(made_up_hash, now) is None
    assert cold.current.grant(hashlib.sha256(real.key.encode()).hexdigest(), now) is not None


def test_a_cold_start__copy_restored_from_before_a_revocation__revoked_key_refused(
    keeper_for: KeeperFactory, databases: tuple[str, str], redis_url: str
) -> None:
    # Given a key, and the Redis copy of the keys as it was while the key was usable
    keys = _auth(databases, redis_url)
    created = keys.create_key(
        CreateKeyRequest.model_validate({"name": "app", "scopes": ["evaluate"]}),
        actor=Actor.master(),
    )
    first = keeper_for()
    client = redis.Redis.from_url(redis_url)
    eventually(lambda: client.hexists(SNAPSHOT_KEYS, f"key:{created.id}"))
    saved = client.dump(SNAPSHOT_KEYS)
    assert saved is not None
    # When the key is revoked, Redis comes back from older data, and a process starts
    keys.revoke_key(created.id, actor=Actor.master())
    key_hash = hashlib.sha256(created.key.encode()).hexdigest()
    eventually(lambda: first.current.grant(key_hash, time.time()) is None)
    first.stop()
    client.restore(SNAPSHOT_KEYS, 0, saved, replace=True)
    cold = keeper_for()
    # Then the process started from the copy, and never held the revoked key: it
    # checked the copy against PostgreSQL before answering
    assert cold.source == "redis"
    assert cold.current.grant(key_hash, time.time()) is None


def _adults_rule(databases: tuple[str, str], redis_url: str) -> None:
    """Flag `adults` on, with a rule written now (grammar 2): age gt 18 serves on."""
    flags(databases, redis_url).create_flag(
        CreateFlagRequest.model_validate({"name": "adults", "is_enabled": True}),
        environment="production",
    )
    document = {
        "rules": [
            {
                "type": "CONDITIONS",
                "conditions": {"attribute": "age", "op": "gt", "value": 18},
                "serve": {"variant": "on"},
            }
        ],
        "fallthrough": {"variant": "off"},
    }
    TargetingService(database_url=databases[0], redis_url=redis_url).create_rule(
        CreateRuleRequest.model_validate({"flag_name": "adults", "rules": document}),
        environment="production",
    )


def _serves(keeper: SnapshotKeeper, context: dict[str, Any]) -> object:
    flag = keeper.current.flag("production", "adults")
    return engine.evaluate(flag.definition, flag.enabled, flag.ruleset, context).variant


def test_grammar__loaded_and_copied__a_grammar_2_rule_reads_numeric_strings(
    keeper_for: KeeperFactory, databases: tuple[str, str], redis_url: str
) -> None:
    # Given a rule written now, with age gt 18
    _adults_rule(databases, redis_url)

    # When a keeper loads PostgreSQL, and a second one the Redis copy the first wrote
    keeper = keeper_for()
    client = redis.Redis.from_url(redis_url)
    eventually(lambda: client.hexists(SNAPSHOT_CONFIG, "flag:adults"))
    eventually(lambda: client.hexists(SNAPSHOT_KEYS, "_meta"))  # the keys' copy too
    second = keeper_for()

    # Then both read the rule in grammar 2: the string "20" is a number above 18
    assert (keeper.source, second.source) == ("postgresql", "redis")
    for held in (keeper, second):
        assert _serves(held, {"user_id": "u", "age": "20"}) == "on"
        assert _serves(held, {"user_id": "u", "age": "17"}) == "off"
    stored = json.loads(client.hget(SNAPSHOT_CONFIG, "flag:adults") or b"{}")
    assert stored["rules"]["production"]["grammar"] == 2


def test_grammar__copy_written_by_a_process_without_grammars__not_used_and_replaced(
    keeper_for: KeeperFactory, databases: tuple[str, str], redis_url: str
) -> None:
    # Given the copy as a process that predates grammars leaves it: documents without
    # grammar, meta without format
    _adults_rule(databases, redis_url)
    keeper_for()
    client = redis.Redis.from_url(redis_url)
    eventually(lambda: client.hexists(SNAPSHOT_CONFIG, "flag:adults"))
    document = json.loads(client.hget(SNAPSHOT_CONFIG, "flag:adults") or b"{}")
    del document["rules"]["production"]["grammar"]
    meta = json.loads(client.hget(SNAPSHOT_CONFIG, "_meta") or b"{}")
    del meta["format"]
    client.hset(
        SNAPSHOT_CONFIG, mapping={"flag:adults": json.dumps(document), "_meta": json.dumps(meta)}
    )

    # When a process starts
    cold = keeper_for()

    # Then it loads PostgreSQL instead of reading the rule as grammar 1, and the copy is
    # written again whole, in the current format
    assert cold.source == "postgresql"
    assert _serves(cold, {"user_id": "u", "age": "20"}) == "on"
    eventually(lambda: b'"format": 2' in (client.hget(SNAPSHOT_CONFIG, "_meta") or b""), 5.0)
    rewritten = json.loads(client.hget(SNAPSHOT_CONFIG, "flag:adults") or b"{}")
    assert rewritten["rules"]["production"]["grammar"] == 2
